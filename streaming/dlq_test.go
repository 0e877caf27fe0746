package streaming_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/streampipe/streampipe/internal/stacktest"
	"github.com/streampipe/streampipe/streaming"
)

// Dead letters always get out. A dead-letter topic that takes smaller messages than
// the source: the worker warns at start, and a poison record too large for it is
// dead-lettered truncated (reason too_large). A dead-letter topic deleted mid-stream
// (auto-create is off): the worker holds the batch and its commit, says so on
// /healthz and in streaming_stuck_seconds, and goes on by itself once the topic is
// back. No poison record vanishes.
func TestDLQTooSmallThenDeleted(t *testing.T) {
	stacktest.Needs(t, stacktest.NeedsKafka, stacktest.NeedsCassandra)
	p := newPipe(t, 2)
	createDLQ := func() {
		t.Helper()
		res, err := p.client.CreateTopics(t.Context(), &kafka.CreateTopicsRequest{Topics: []kafka.TopicConfig{{
			Topic: p.dlq, NumPartitions: 1, ReplicationFactor: 1,
			ConfigEntries: []kafka.ConfigEntry{{ConfigName: "max.message.bytes", ConfigValue: "65536"}},
		}}})
		require.NoError(t, err)
		require.NoError(t, res.Errors[p.dlq])
	}
	createDLQ()
	w := startProc(t, p, "worker")

	// Poison records of 100 kB, too large for the dead-letter topic whole.
	l := newLoad()
	big := map[string][]byte{}
	msgs := l.messages(newIDs(100), 1, 0, time.Now())
	for i := range 3 {
		key := fmt.Sprintf("big-%d", i)
		big[key] = bytes.Repeat([]byte{'x'}, 100_000) // not JSON
		msgs = append(msgs, kafka.Message{Key: []byte(key), Value: big[key], Time: time.Now()})
	}
	p.produce(msgs)
	p.waitCaughtUp(time.Minute)
	assert.Contains(t, w.logs.String(), "the dead-letter topic takes smaller messages than the source topic")
	dead := p.readAll(p.dlq)
	require.Len(t, dead, len(big))
	for _, m := range dead {
		h := headers(m)
		assert.Equal(t, streaming.ReasonTooLarge, h[streaming.HeaderReason], "reason of %s", m.Key)
		assert.Contains(t, h[streaming.HeaderError], "reason not_json")
		assert.Equal(t, "true", h[streaming.HeaderTruncated])
		assert.Equal(t, p.topic, h[streaming.HeaderTopic])
		assert.Equal(t, big[string(m.Key)][:len(m.Value)], m.Value, "the value's beginning")
		assert.Less(t, len(m.Value), 65536)
	}

	// The dead-letter topic deleted: the batch with poison records waits.
	res, err := p.client.DeleteTopics(t.Context(), &kafka.DeleteTopicsRequest{Topics: []string{p.dlq}})
	require.NoError(t, err)
	require.NoError(t, res.Errors[p.dlq])
	_, before, err := p.partitionOffsets(context.Background())
	require.NoError(t, err)
	l = newLoad()
	p.produce(l.messages(newIDs(100), 1, 10, time.Now()))
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		code, body, _ := w.healthz()
		assert.Equal(c, http.StatusServiceUnavailable, code)
		assert.Contains(c, body, "waiting for dead-letter topic "+p.dlq)
		stuck, err := w.metric(`streaming_stuck_seconds{dataset="users",stage="dlq"}`)
		if assert.NoError(c, err) {
			assert.GreaterOrEqual(c, stuck, 3.0, "streaming_stuck_seconds")
		}
	}, time.Minute, 200*time.Millisecond, "the worker does not say that it waits for the dead-letter topic")
	_, held, err := p.partitionOffsets(context.Background())
	require.NoError(t, err)
	assert.Equal(t, before, held, "offsets committed while the dead-letter topic was missing")

	createDLQ()
	back := time.Now()
	p.waitCaughtUp(time.Minute)
	t.Logf("dead-letter topic back to all committed: %.1f s", time.Since(back).Seconds())
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		code, body, _ := w.healthz()
		assert.Equal(c, http.StatusOK, code, body)
		stuck, err := w.metric(`streaming_stuck_seconds{dataset="users",stage="dlq"}`)
		if assert.NoError(c, err) {
			assert.Zero(c, stuck)
		}
	}, 30*time.Second, 200*time.Millisecond)
	require.True(t, w.alive())
	p.checkRows(l)
	p.checkDLQ(l, true)
}

func headers(m kafka.Message) map[string]string {
	h := map[string]string{}
	for _, kv := range m.Headers {
		h[kv.Key] = string(kv.Value)
	}
	return h
}
