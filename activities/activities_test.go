package activities

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/streampipe/streampipe/datasets"
	"github.com/streampipe/streampipe/internal/kafkatest"
	"github.com/streampipe/streampipe/internal/randomusertest"
	"github.com/streampipe/streampipe/internal/stacktest"
	"github.com/streampipe/streampipe/record"
)

func TestPublishTickFailsWhileKafkaIsDown(t *testing.T) {
	a := New(Config{KafkaBrokers: []string{"127.0.0.1:1"}, RandomUserURL: "http://127.0.0.1:1/"}, discardLogger())
	t.Cleanup(func() { _ = a.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()

	_, err := a.PublishTick(ctx, TickInput{WorkflowID: "wf", RunID: "run", Interval: time.Second, Records: 2, Topic: "t"})

	require.Error(t, err, "an unreachable Kafka fails the tick, so that Temporal retries it")
	assert.Equal(t, "tick 1: publishing 2 users to topic t: Kafka at 127.0.0.1:1 (KAFKA_BROKERS) unreachable: connection refused", err.Error())

	err = a.EnsureTopic(ctx, "t")
	assert.Equal(t, "creating topic t: Kafka at 127.0.0.1:1 (KAFKA_BROKERS) unreachable: connection refused", err.Error())
	err = a.CheckKafka(ctx)
	assert.Equal(t, "checking kafka: Kafka at 127.0.0.1:1 (KAFKA_BROKERS) unreachable: connection refused", err.Error())
}

func TestPublishTickToKafka(t *testing.T) {
	stacktest.Needs(t, stacktest.NeedsKafka)
	brokers := stacktest.KafkaBrokers(t)
	topic := fmt.Sprintf("test-publish-tick-%d", time.Now().UnixNano())
	a := New(Config{KafkaBrokers: brokers, RandomUserURL: randomusertest.NewServer(t).URL}, discardLogger())
	t.Cleanup(func() { _ = a.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	require.NoError(t, a.EnsureTopic(ctx, topic))
	require.NoError(t, a.EnsureTopic(ctx, topic), "creating an existing topic is not an error")

	in := TickInput{WorkflowID: "wf", RunID: "run", Tick: 5, Due: time.Now().Add(300 * time.Millisecond),
		Interval: time.Second, Records: 20, Topic: topic}
	res, err := a.PublishTick(ctx, in)
	require.NoError(t, err)
	assert.False(t, time.Now().Before(in.Due), "a tick started early waits for its due time")
	assert.Equal(t, TickResult{Tick: 5, Records: 20, Source: datasets.SourceRandomUser, Lateness: res.Lateness}, res)

	msgs, partitions := kafkatest.ReadAll(ctx, t, brokers, topic)
	assert.Equal(t, 3, partitions, "default partition count")
	require.Len(t, msgs, 20)
	ids := map[string]bool{}
	for _, m := range msgs {
		var u record.User
		require.NoError(t, json.Unmarshal(m.Value, &u))
		assert.Equal(t, string(m.Key), u.ID, "key = id")
		assert.Equal(t, datasets.SourceRandomUser, u.Source)
		assertComplete(t, u)
		ids[u.ID] = true
	}
	for i := range in.Records {
		assert.True(t, ids[datasets.Users.RecordID("wf", "run", 5, i)], "user %d published", i)
	}
}

// The writer reports a failed batch as one error a message; the first tells why.
func TestKafkaErrorOfAWriteErrors(t *testing.T) {
	a := New(Config{KafkaBrokers: []string{"127.0.0.1:1"}}, discardLogger())
	refused := &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}
	err := a.kafkaError(context.Background(), "tick 2: publishing", kafka.WriteErrors{nil, fmt.Errorf("kafka.(*Client).Produce: %w", refused)})
	assert.Equal(t, "tick 2: publishing: Kafka at 127.0.0.1:1 (KAFKA_BROKERS) unreachable: connection refused", err.Error())
}
