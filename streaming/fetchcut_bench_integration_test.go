package streaming

import (
	"context"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/stretchr/testify/require"

	"github.com/streampipe/streampipe/internal/testkit/stacktest"
	"github.com/streampipe/streampipe/streaming/fetchcut"
)

// BenchmarkFetchPath reports, in one run, the records/s a kafka-go Reader fetches
// from a topic of 200,000 user records (about 420 bytes each), uncompressed and
// zstd-compressed, through kafka-go's own connections (the worker's fetch path
// before fetchcut) and through cutConns with the default bounds: the best of two
// rounds each, taken in turns.
func BenchmarkFetchPath(b *testing.B) {
	stacktest.Needs(b, stacktest.NeedsKafka)
	const records = 200_000
	brokers := stacktest.KafkaBrokers(b)
	ctx := b.Context()
	bounds := fetchcut.New(DefaultMaxRecordBytes, DefaultMaxBufferBytes)
	paths := []struct {
		name   string
		dialer *kafka.Dialer
	}{
		{"kafka-go", kafka.DefaultDialer},
		{"fetchcut", &kafka.Dialer{Timeout: 10 * time.Second, DialFunc: bounds.Dial((&net.Dialer{}).DialContext)}},
	}
	for _, codec := range []kafka.Compression{0, kafka.Zstd} {
		topic := fmt.Sprintf("streaming_bench_fetch_%d_%d", codec, time.Now().UnixNano())
		client := &kafka.Client{Addr: kafka.TCP(brokers...), Timeout: 10 * time.Second}
		res, err := client.CreateTopics(ctx, &kafka.CreateTopicsRequest{Topics: []kafka.TopicConfig{{Topic: topic, NumPartitions: 1, ReplicationFactor: 1}}})
		require.NoError(b, err)
		require.NoError(b, res.Errors[topic])
		b.Cleanup(func() {
			_, _ = client.DeleteTopics(context.Background(), &kafka.DeleteTopicsRequest{Topics: []string{topic}})
		})
		w := &kafka.Writer{Addr: kafka.TCP(brokers...), Topic: topic, Compression: codec, BatchSize: 1000,
			BatchTimeout: 5 * time.Millisecond, RequiredAcks: kafka.RequireAll}
		msgs := make([]kafka.Message, 10_000)
		for n := 0; n < records; n += len(msgs) {
			for i := range msgs {
				msgs[i] = kafka.Message{Key: fmt.Appendf(nil, "%08d", n+i), Value: benchUser(n + i), Time: time.Now()}
			}
			require.NoError(b, w.WriteMessages(ctx, msgs...))
		}
		require.NoError(b, w.Close())

		best := make([]float64, len(paths))
		for range 2 {
			for i, p := range paths {
				best[i] = max(best[i], fetchAll(b, brokers, topic, p.dialer, records))
			}
		}
		for i, p := range paths {
			b.Logf("%s, compression %v: %.0f records/s", p.name, codec, best[i])
			b.ReportMetric(best[i], fmt.Sprintf("records/s-%s-%v", p.name, codec))
		}
	}
}

// fetchAll reads n records of topic's partition 0 with a Reader over dialer's
// connections and returns the records/s.
func fetchAll(b *testing.B, brokers []string, topic string, dialer *kafka.Dialer, n int) float64 {
	r := kafka.NewReader(kafka.ReaderConfig{Brokers: brokers, Topic: topic, Dialer: dialer, MaxWait: 500 * time.Millisecond,
		QueueCapacity: queueCapacity(Config{MaxRecordBytes: DefaultMaxRecordBytes, MaxBufferBytes: DefaultMaxBufferBytes})})
	defer r.Close()
	ctx, cancel := context.WithTimeout(b.Context(), 2*time.Minute)
	defer cancel()
	start := time.Now()
	for i := range n {
		m, err := r.FetchMessage(ctx)
		if err != nil || m.Offset != int64(i) { // not require: its bookkeeping would weigh on the figures
			b.Fatalf("record %d: offset %d, %v", i, m.Offset, err)
		}
	}
	return float64(n) / time.Since(start).Seconds()
}

// benchUser is a user record like the producer's.
func benchUser(i int) []byte {
	return fmt.Appendf(nil, `{"id":"6f1c2a3e-0000-4000-8000-%012d","first_name":"First%d","last_name":"Last%d",`+
		`"gender":"female","address":"%d Main Street, Springfield, Oregon, United States","post_code":"97477",`+
		`"email":"user%d@example.com","username":"user%d","dob":"1990-01-02T03:04:05.678Z",`+
		`"registered_date":"2020-01-02T03:04:05.678Z","phone":"(555) 010-0000",`+
		`"picture":"https://randomuser.me/api/portraits/med/women/1.jpg"}`, i, i, i, i, i, i)
}
