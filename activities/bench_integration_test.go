package activities

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/streampipe/streampipe/datasets"
	"github.com/streampipe/streampipe/internal/testkit/randomusertest"
	"github.com/streampipe/streampipe/internal/testkit/stacktest"
)

// BenchmarkPublishThroughput publishes large ticks (5000 users, randomuser.me's most
// per call) through PublishTick on the local stack's Kafka, from each source, and
// then writes the same number of ready-made messages of the same size through the
// same Writer: the produce ceiling. It reports users/s of both and their ratio.
func BenchmarkPublishThroughput(b *testing.B) {
	stacktest.Needs(b, stacktest.NeedsKafka)
	const users, ticks = 5000, 6
	brokers := stacktest.KafkaBrokers(b)
	for _, src := range []struct{ name, url string }{
		{datasets.SourceRandomUser, randomusertest.NewServer(b).URL},
		{datasets.SourceFaker, "http://127.0.0.1:1/api/"},
	} {
		b.Run(src.name, func(b *testing.B) {
			topic := fmt.Sprintf("bench-publish-%s-%d", src.name, time.Now().UnixNano())
			a := New(Config{KafkaBrokers: brokers, RandomUserURL: src.url, AllowedTopics: []string{topic}}, discardLogger())
			defer a.Close()
			ctx := context.Background()
			if err := a.EnsureTopic(ctx, topic); err != nil {
				b.Fatal(err)
			}
			in := TickInput{WorkflowID: "bench", RunID: topic, Interval: 20 * time.Second, Records: users, Topic: topic}
			// Warm the writer's connections and metadata.
			if _, err := a.PublishTick(ctx, in); err != nil {
				b.Fatal(err)
			}
			b.ResetTimer()
			for range b.N {
				var pipeline, ceiling time.Duration
				for k := range ticks {
					in.Tick, in.Due = k+1, time.Now()
					start := time.Now()
					res, err := a.PublishTick(ctx, in)
					pipeline += time.Since(start)
					if err != nil {
						b.Fatal(err)
					}
					if res.Source != src.name {
						b.Fatalf("tick %d came from %s (%s), want %s", k, res.Source, res.FallbackReason, src.name)
					}
				}
				msgs := readyMessages(topic, users)
				for range ticks {
					start := time.Now()
					if err := a.writer.WriteMessages(ctx, msgs...); err != nil {
						b.Fatal(err)
					}
					ceiling += time.Since(start)
				}
				total := float64(users * ticks)
				b.ReportMetric(total/pipeline.Seconds(), "users/s")
				b.ReportMetric(total/ceiling.Seconds(), "ceiling-users/s")
				b.ReportMetric(ceiling.Seconds()/pipeline.Seconds(), "ratio")
			}
		})
	}
}

// readyMessages are n messages like a tick's, encoded before the clock starts.
func readyMessages(topic string, n int) []kafka.Message {
	msgs := make([]kafka.Message, n)
	for i, u := range fakeUsers(1, n) {
		rec := formatUser(u, datasets.Users.RecordID("ceiling", topic, 0, i), datasets.SourceFaker)
		value, _ := json.Marshal(rec)
		msgs[i] = kafka.Message{Topic: topic, Key: []byte(rec.ID), Value: value}
	}
	return msgs
}
