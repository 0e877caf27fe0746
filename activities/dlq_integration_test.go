package activities

import (
	"fmt"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/testsuite"

	"github.com/streampipe/streampipe/internal/dlq"
	"github.com/streampipe/streampipe/internal/testkit/kafkatest"
	"github.com/streampipe/streampipe/internal/testkit/stacktest"
	"github.com/streampipe/streampipe/rows"
)

// A page retried after its worker died having published part of it — here, the
// replays of the even dead letters already on the source topic — publishes the
// rest only: each dead letter once, with its original timestamp. Records that
// forge the odd ones' dlq.replayed_from without their content do not count as
// their replays, and a dead letter that names another topic than the replay's is
// not published there.
func TestReplayPageRetriedAfterAPartialPublishSendsTheRestOnly(t *testing.T) {
	stacktest.Needs(t, stacktest.NeedsKafka)
	brokers := stacktest.KafkaBrokers(t)
	topic := fmt.Sprintf("test-replay-page-%d", time.Now().UnixNano())
	src, dlqTopic := topic+"-src", topic+".dlq"
	kafkatest.CreateTopic(t, brokers, src, 3)
	kafkatest.CreateTopic(t, brokers, dlqTopic, 1)
	at := time.Now().Add(-time.Minute)
	var letters, published []kafka.Message
	for i := range 10 {
		m := kafkatest.DeadLetter("missing_field", src, i%3, int64(i), fmt.Sprint("k", i), "{}", 0, at)
		letters = append(letters, m)
		m.Offset = int64(i)
		r := rows.ParseLetter(m).Replay(dlqTopic)
		r.Topic, r.Partition = "", i%3
		if i%2 == 1 {
			r.Value = []byte(`{"forged":true}`)
		}
		published = append(published, r)
	}
	letters = append(letters, kafkatest.DeadLetter("missing_field", "another-datasets-topic", 0, 0, "k10", "{}", 0, at))
	kafkatest.Produce(t, brokers, dlqTopic, letters)
	kafkatest.Produce(t, brokers, src, published)

	page := ReplayPageInput{DLQTopic: dlqTopic, Topic: src, Range: dlq.Range{Partition: 0, From: 0, To: 11}, MaxReplays: 3}
	refused := New(Config{KafkaBrokers: brokers}, discardLogger())
	t.Cleanup(func() { _ = refused.Close() })
	env := (&testsuite.WorkflowTestSuite{}).NewTestActivityEnvironment()
	env.RegisterActivity(refused)
	_, err := env.ExecuteActivity(refused.ReplayPage, page)
	require.Error(t, err, "the source topic is neither a dataset's nor allowed")
	assert.Contains(t, err.Error(), "topic "+src+" is not allowed")

	a := New(Config{KafkaBrokers: brokers, AllowedTopics: []string{src, "another-datasets-topic"}}, discardLogger())
	t.Cleanup(func() { _ = a.Close() })
	env = (&testsuite.WorkflowTestSuite{}).NewTestActivityEnvironment()
	env.RegisterActivity(a)
	v, err := env.ExecuteActivity(a.ReplayPage, page)
	require.NoError(t, err)
	var res ReplayPageResult
	require.NoError(t, v.Get(&res))
	assert.Equal(t, ReplayPageResult{Read: 11, Selected: 11, Replayed: 5, AlreadyReplayed: 5, Failed: 1}, res)

	msgs, _ := kafkatest.ReadAll(t.Context(), t, brokers, src)
	var replays []kafka.Message
	for _, m := range msgs {
		if string(m.Value) == "{}" {
			replays = append(replays, m)
			assert.Equal(t, at.Add(-time.Second).UnixMilli(), m.Time.UnixMilli(), "the source record's timestamp")
		}
	}
	counts := kafkatest.CountByHeader(replays, rows.HeaderReplayedFrom)
	for i := range 10 {
		assert.Equal(t, 1, counts[rows.Coordinates(dlqTopic, 0, int64(i))], "dead letter %d", i)
	}
	assert.Len(t, replays, 10, "the other topic's dead letter is not here")
}
