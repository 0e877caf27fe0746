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
	"go.temporal.io/sdk/temporal"

	"github.com/streampipe/streampipe/datasets"
	"github.com/streampipe/streampipe/internal/testkit/kafkatest"
	"github.com/streampipe/streampipe/internal/testkit/randomusertest"
	"github.com/streampipe/streampipe/internal/testkit/stacktest"
)

func TestPublishTickFailsWhileKafkaIsDown(t *testing.T) {
	a := New(Config{KafkaBrokers: []string{"127.0.0.1:1"}, RandomUserURL: "http://127.0.0.1:1/"}, discardLogger())
	t.Cleanup(func() { _ = a.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()

	_, err := a.PublishTick(ctx, TickInput{WorkflowID: "wf", RunID: "run", Interval: time.Second, Records: 2, Topic: "users_created"})

	require.Error(t, err, "an unreachable Kafka fails the tick, so that Temporal retries it")
	assert.Equal(t, "tick 1: publishing 2 users to topic users_created: Kafka at 127.0.0.1:1 (KAFKA_BROKERS) unreachable: connection refused", err.Error())

	err = a.EnsureTopic(ctx, "users_created")
	assert.Equal(t, "creating topic users_created: Kafka at 127.0.0.1:1 (KAFKA_BROKERS) unreachable: connection refused", err.Error())
	err = a.CheckKafka(ctx)
	assert.Equal(t, "checking kafka: Kafka at 127.0.0.1:1 (KAFKA_BROKERS) unreachable: connection refused", err.Error())
}

func TestPublishTickToKafka(t *testing.T) {
	stacktest.Needs(t, stacktest.NeedsKafka)
	brokers := stacktest.KafkaBrokers(t)
	topic := fmt.Sprintf("test-publish-tick-%d", time.Now().UnixNano())
	a := New(Config{KafkaBrokers: brokers, RandomUserURL: randomusertest.NewServer(t).URL,
		DatasetTopics: map[string]string{datasets.NameUsers: topic}}, discardLogger())
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
		var u datasets.User
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

// A run publishes a dataset's records to the dataset's own topic, and to the allowed
// ones; any other is refused for good, before Kafka is asked anything.
func TestTopicsOtherThanTheDatasetsAreRefused(t *testing.T) {
	unreachable := []string{"127.0.0.1:1"}
	tests := []struct {
		name            string
		cfg             Config
		dataset, topic  string
		allowed, exists bool // EnsureTopic allows it; PublishTick allows it
	}{
		{"the users' default", Config{}, datasets.NameUsers, "users_created", true, true},
		{"the users' own", Config{DatasetTopics: map[string]string{"users": "people"}}, datasets.NameUsers, "people", true, true},
		{"the users' default, when KAFKA_TOPIC names another", Config{DatasetTopics: map[string]string{"users": "people"}},
			datasets.NameUsers, "users_created", false, false},
		{"another dataset's", Config{}, datasets.NameUsers, "incoming_finance_data", true, false},
		{"any other", Config{}, datasets.NameTransactions, "audit", false, false},
		{"an allowed one", Config{AllowedTopics: []string{"audit"}}, datasets.NameTransactions, "audit", true, true},
		{"any, with *", Config{AllowedTopics: []string{"*"}}, datasets.NameRegisteredUsers, "anything", true, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.cfg.KafkaBrokers = unreachable
			a := New(tt.cfg, discardLogger())
			t.Cleanup(func() { _ = a.Close() })
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			check := func(err error, allowed bool) {
				t.Helper()
				var appErr *temporal.ApplicationError
				if allowed {
					assert.ErrorContains(t, err, "unreachable", "allowed: on to Kafka")
					return
				}
				require.ErrorAs(t, err, &appErr)
				assert.True(t, appErr.NonRetryable())
				assert.Equal(t, "TopicNotAllowed", appErr.Type())
				assert.Contains(t, err.Error(), "topic "+tt.topic+" is not allowed: the worker publishes a dataset's records "+
					"to its own topic (")
				assert.Contains(t, err.Error(), "WORKER_ALLOWED_TOPICS")
			}
			check(a.EnsureTopic(ctx, tt.topic), tt.allowed)
			_, err := a.PublishTick(ctx, TickInput{WorkflowID: "wf", RunID: "run", Dataset: tt.dataset,
				Interval: time.Second, Records: 1, Topic: tt.topic})
			check(err, tt.exists)
		})
	}
}

// The writer reports a failed batch as one error a message; the first tells why.
func TestKafkaErrorOfAWriteErrors(t *testing.T) {
	a := New(Config{KafkaBrokers: []string{"127.0.0.1:1"}}, discardLogger())
	refused := &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}
	err := a.kafkaError(context.Background(), "tick 2: publishing", kafka.WriteErrors{nil, fmt.Errorf("kafka.(*Client).Produce: %w", refused)})
	assert.Equal(t, "tick 2: publishing: Kafka at 127.0.0.1:1 (KAFKA_BROKERS) unreachable: connection refused", err.Error())
}
