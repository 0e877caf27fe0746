package kafkatest

import (
	"context"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/streampipe/streampipe/internal/testkit/stacktest"
)

// GroupOffsets waits out the answers of a Kafka in passage: asked on a fresh Kafka,
// whose first group request creates __consumer_offsets (COORDINATOR_NOT_AVAILABLE
// until then), and right after a restart, while the coordinator loads the group
// (GROUP_LOAD_IN_PROGRESS, NOT_COORDINATOR), it returns the offsets, not the error.
func TestGroupOffsetsWaitsForTheCoordinator(t *testing.T) {
	stacktest.Needs(t, stacktest.NeedsScript)
	k := stacktest.PrivateKafka(t, "../../../stack/stack.sh")
	fresh := func() *kafka.Client { // no metadata cached from before a restart
		return &kafka.Client{Addr: kafka.TCP(k.Brokers...), Transport: &kafka.Transport{}}
	}
	const topic, group = "settle", "settle-group"
	c := fresh()
	NewTopic(t, c, kafka.TopicConfig{Topic: topic, NumPartitions: 2})

	end, committed, waited, err := groupOffsets(context.Background(), c, topic, group)
	require.NoError(t, err, "on a fresh Kafka")
	t.Logf("on a fresh Kafka, %d answers waited out: %v", len(waited), waited)
	assert.NotEmpty(t, waited, "the first group request on a fresh Kafka finds no coordinator")
	assert.Equal(t, map[int]int64{0: 0, 1: 0}, end)
	assert.Equal(t, map[int]int64{0: -1, 1: -1}, committed)

	res, err := c.OffsetCommit(context.Background(), &kafka.OffsetCommitRequest{GroupID: group, GenerationID: -1,
		Topics: map[string][]kafka.OffsetCommit{topic: {{Partition: 0, Offset: 0}, {Partition: 1, Offset: 0}}}})
	require.NoError(t, err)
	for _, p := range res.Topics[topic] {
		require.NoError(t, p.Error)
	}

	// Asked as soon as the restarted broker takes connections, before the script
	// says it is up.
	k.Stop()
	started := make(chan error, 1)
	go func() {
		out, err := k.Script(nil, "up", "kafka")
		if err != nil {
			err = fmt.Errorf("%w\n%s", err, out)
		}
		started <- err
	}()
	require.Eventually(t, func() bool {
		conn, err := net.Dial("tcp", k.Brokers[0])
		if err == nil {
			_ = conn.Close()
		}
		return err == nil
	}, time.Minute, 10*time.Millisecond, "the restarted Kafka takes no connections")
	c = fresh()
	_, committed, waited, err = groupOffsets(context.Background(), c, topic, group)
	require.NoError(t, <-started, "restarting the test's kafka")
	require.NoError(t, err, "right after a restart")
	t.Logf("right after a restart, %d answers waited out: %v", len(waited), waited)
	assert.Equal(t, map[int]int64{0: 0, 1: 0}, committed)
}
