package cutover_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/streampipe/streampipe/internal/cutover"
	"github.com/streampipe/streampipe/internal/testkit/cutovertest"
	"github.com/streampipe/streampipe/internal/testkit/kafkatest"
	"github.com/streampipe/streampipe/internal/testkit/stacktest"
)

// topicWith creates a topic of the test's own whose partition p holds sizes[p]
// records, and returns it with a client and a group name of the test's own.
func topicWith(t *testing.T, sizes ...int) (topic, group string, c *kafka.Client) {
	t.Helper()
	brokers := stacktest.KafkaBrokers(t)
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	topic, group = "cutover_it_"+hex.EncodeToString(b), "cutover-it-"+hex.EncodeToString(b)
	kafkatest.CreateTopic(t, brokers, topic, len(sizes))
	var msgs []kafka.Message
	for p, n := range sizes {
		for i := range n {
			msgs = append(msgs, kafka.Message{Partition: p, Key: []byte(fmt.Sprintf("k%d-%d", p, i)), Value: []byte("{}")})
		}
	}
	kafkatest.Produce(t, brokers, topic, msgs)
	return topic, group, &kafka.Client{Addr: kafka.TCP(brokers...), Timeout: 10 * time.Second}
}

// The offsets of the last finished batch become the group's, which had none: a
// commit by no member of an empty group, which Kafka accepts. A second cut-over
// is refused, unless forced.
func TestCutOverCommitsTheLastFinishedBatch(t *testing.T) {
	stacktest.Needs(t, stacktest.NeedsKafka)
	topic, group, c := topicWith(t, 10, 11, 12)
	ck, err := cutover.ReadCheckpoint(cutovertest.Checkpoint(t,
		[]cutovertest.Offsets{{topic: {0: 1, 1: 2, 2: 3}}, {topic: {0: 4, 1: 5, 2: 6}}},
		cutovertest.Offsets{topic: {0: 9, 1: 9, 2: 9}})) // planned, not finished
	require.NoError(t, err)
	ctx := context.Background()

	plan, err := cutover.Prepare(ctx, c, ck, topic, group, false)
	require.NoError(t, err)
	assert.Equal(t, []cutover.Partition{
		{ID: 0, Commit: 4, Start: 0, End: 10, Committed: -1},
		{ID: 1, Commit: 5, Start: 0, End: 11, Committed: -1},
		{ID: 2, Commit: 6, Start: 0, End: 12, Committed: -1},
	}, plan.Partitions)
	assert.EqualValues(t, 18, plan.Lag())
	var out bytes.Buffer
	plan.Print(&out)
	assert.Contains(t, out.String(), "last finished batch 1")
	assert.Regexp(t, `(?m)^\s+0\s+0\s+4\s+none\s+10\s+6\s*$`, out.String())
	assert.Regexp(t, `(?m)^\s*total\s+18\s*$`, out.String())
	assert.Equal(t, map[int]int64{0: -1, 1: -1, 2: -1}, kafkatest.Committed(t, c, topic, group), "Prepare commits nothing")

	require.NoError(t, plan.Commit(ctx, c))
	assert.Equal(t, map[int]int64{0: 4, 1: 5, 2: 6}, kafkatest.Committed(t, c, topic, group))

	_, err = cutover.Prepare(ctx, c, ck, topic, group, false)
	var refused *cutover.Refused
	require.ErrorAs(t, err, &refused)
	assert.Contains(t, err.Error(), "group "+group+" already has offsets of topic "+topic+" (partitions [0 1 2])")
	assert.Contains(t, err.Error(), "-force")

	earlier, err := cutover.ReadCheckpoint(cutovertest.Checkpoint(t, []cutovertest.Offsets{{topic: {0: 1, 1: 2, 2: 3}}}, nil))
	require.NoError(t, err)
	plan, err = cutover.Prepare(ctx, c, earlier, topic, group, true)
	require.NoError(t, err)
	assert.EqualValues(t, 4, plan.Partitions[0].Committed)
	require.NoError(t, plan.Commit(ctx, c))
	assert.Equal(t, map[int]int64{0: 1, 1: 2, 2: 3}, kafkatest.Committed(t, c, topic, group))
}

// Each mismatch between the checkpoint and the live topic is refused, naming it.
func TestCutOverRefusesAMismatch(t *testing.T) {
	stacktest.Needs(t, stacktest.NeedsKafka)
	topic, group, c := topicWith(t, 5, 5)
	for _, tt := range []struct {
		name    string
		topic   string
		offsets cutovertest.Offsets
		want    string
	}{
		{"another topic", topic, cutovertest.Offsets{"users_created": {0: 1, 1: 1}},
			"has no offsets of topic " + topic + ", only of users_created"},
		{"fewer partitions", topic, cutovertest.Offsets{topic: {0: 1}},
			"topic " + topic + " has partitions [0 1], the checkpoint's batch 0 has [0]"},
		{"more partitions", topic, cutovertest.Offsets{topic: {0: 1, 1: 1, 2: 1}},
			"has partitions [0 1], the checkpoint's batch 0 has [0 1 2]"},
		{"beyond the end", topic, cutovertest.Offsets{topic: {0: 1, 1: 6}},
			"partition 1: the checkpoint's offset 6 is beyond the partition's end 5"},
		{"no such topic", topic + "_gone", cutovertest.Offsets{topic + "_gone": {0: 1}},
			"topic " + topic + "_gone does not exist"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ck, err := cutover.ReadCheckpoint(cutovertest.Checkpoint(t, []cutovertest.Offsets{tt.offsets}, nil))
			require.NoError(t, err)
			_, err = cutover.Prepare(context.Background(), c, ck, tt.topic, group, true)
			var refused *cutover.Refused
			require.ErrorAs(t, err, &refused)
			assert.Contains(t, err.Error(), tt.want)
		})
	}
	assert.Equal(t, map[int]int64{0: -1, 1: -1}, kafkatest.Committed(t, c, topic, group), "nothing committed")
}

// A group with a live member (a streaming worker still running) is refused, even
// with -force: its commits would undo the cut-over. Once the member has left, the
// group (empty now, with the member's offsets) takes the forced cut-over.
func TestCutOverRefusesALiveGroup(t *testing.T) {
	stacktest.Needs(t, stacktest.NeedsKafka)
	topic, group, c := topicWith(t, 3)
	r := kafka.NewReader(kafka.ReaderConfig{Brokers: stacktest.KafkaBrokers(t), Topic: topic, GroupID: group,
		StartOffset: kafka.FirstOffset})
	t.Cleanup(func() { _ = r.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_, err := r.FetchMessage(ctx) // the reader has joined the group
	require.NoError(t, err)

	ck, err := cutover.ReadCheckpoint(cutovertest.Checkpoint(t, []cutovertest.Offsets{{topic: {0: 1}}}, nil))
	require.NoError(t, err)
	_, err = cutover.Prepare(ctx, c, ck, topic, group, true)
	var refused *cutover.Refused
	require.ErrorAs(t, err, &refused)
	assert.Contains(t, err.Error(), "group "+group+" has 1 live members")
	assert.Contains(t, err.Error(), "stop the streaming workers first")

	require.NoError(t, r.CommitMessages(ctx, kafka.Message{Topic: topic, Partition: 0, Offset: 2}))
	require.NoError(t, r.Close()) // leaves the group
	plan, err := cutover.Prepare(ctx, c, ck, topic, group, true)
	require.NoError(t, err)
	assert.EqualValues(t, 3, plan.Partitions[0].Committed, "the member's offset")
	require.NoError(t, plan.Commit(ctx, c))
	assert.Equal(t, map[int]int64{0: 1}, kafkatest.Committed(t, c, topic, group))
}

// On a Kafka where no consumer group was ever coordinated, as one that only Spark
// reads (its Kafka source assigns partitions itself), the first group request
// creates __consumer_offsets and is answered "not coordinator" until it is up: the
// cut-over waits for the coordinator instead of failing.
func TestCutOverOnAKafkaNoGroupHasUsed(t *testing.T) {
	stacktest.Needs(t, stacktest.NeedsScript)
	k := stacktest.PrivateKafka(t, "../../stack/stack.sh")
	topic, group := "cutover_fresh", "cutover-fresh"
	kafkatest.CreateTopic(t, k.Brokers, topic, 2)
	kafkatest.Produce(t, k.Brokers, topic, []kafka.Message{
		{Partition: 0, Key: []byte("a"), Value: []byte("{}")}, {Partition: 1, Key: []byte("b"), Value: []byte("{}")}})
	c := &kafka.Client{Addr: kafka.TCP(k.Brokers...), Timeout: 10 * time.Second}
	ck, err := cutover.ReadCheckpoint(cutovertest.Checkpoint(t, []cutovertest.Offsets{{topic: {0: 1, 1: 0}}}, nil))
	require.NoError(t, err)

	plan, err := cutover.Prepare(context.Background(), c, ck, topic, group, false)
	require.NoError(t, err)
	require.NoError(t, plan.Commit(context.Background(), c))
	assert.Equal(t, map[int]int64{0: 1, 1: 0}, kafkatest.Committed(t, c, topic, group))
}
