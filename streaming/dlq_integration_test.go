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

	"github.com/streampipe/streampipe/internal/testkit/kafkatest"
	"github.com/streampipe/streampipe/internal/testkit/stacktest"
	"github.com/streampipe/streampipe/rows"
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
		kafkatest.NewTopic(t, p.client, kafka.TopicConfig{Topic: p.dlq, NumPartitions: 1,
			ConfigEntries: []kafka.ConfigEntry{{ConfigName: "max.message.bytes", ConfigValue: "65536"}}})
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
		assert.Equal(t, rows.ReasonTooLarge, h[rows.HeaderReason], "reason of %s", m.Key)
		assert.Contains(t, h[rows.HeaderError], "reason not_json")
		assert.Equal(t, "true", h[rows.HeaderTruncated])
		assert.Equal(t, p.topic, h[rows.HeaderTopic])
		assert.Equal(t, big[string(m.Key)][:len(m.Value)], m.Value, "the value's beginning")
		assert.Less(t, len(m.Value), 65536)
	}

	// The dead-letter topic deleted: the batch with poison records waits.
	p.deleteTopic(t, p.dlq)
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
	// Each partition's commit stops at its first poison record since the deletion.
	src := p.readAll(p.topic)
	end, _, err := p.partitionOffsets(context.Background())
	require.NoError(t, err)
	want := map[int]int64{}
	for part := range end {
		want[part] = firstDead(src, l, part, before[part], end[part])
	}
	t.Logf("committed offsets before the deletion %v; the first poison record since, by partition: %v", before, want)
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		_, held, err := p.partitionOffsets(context.Background())
		if assert.NoError(c, err) {
			assert.Equal(c, want, held, "offsets committed while the dead-letter topic is missing")
		}
	}, 30*time.Second, 200*time.Millisecond)

	p.dlqBack(w, l, createDLQ)
}

// dlqBack makes the dead-letter topic again with create, and checks that the worker
// w, which waited for it, goes on by itself: every offset committed, /healthz 200
// and streaming_stuck_seconds zero, and every row and dead letter of l there, once.
func (p *pipe) dlqBack(w *proc, l *load, create func()) {
	p.t.Helper()
	create()
	back := time.Now()
	p.waitCaughtUp(time.Minute)
	p.t.Logf("dead-letter topic back to all committed: %.1f s", time.Since(back).Seconds())
	require.EventuallyWithT(p.t, func(c *assert.CollectT) {
		code, body, _ := w.healthz()
		assert.Equal(c, http.StatusOK, code, body)
		stuck, err := w.metric(`streaming_stuck_seconds{dataset="users",stage="dlq"}`)
		if assert.NoError(c, err) {
			assert.Zero(c, stuck)
		}
	}, 30*time.Second, 200*time.Millisecond)
	require.True(p.t, w.alive())
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

// firstDead returns the offset of partition's first record from offset from on that
// l sent as invalid (keyed "partition/offset" in src), or end if there is none.
func firstDead(src map[string]kafka.Message, l *load, partition int, from, end int64) int64 {
	first := end
	for _, m := range src {
		if _, bad := l.invalid[string(m.Key)]; bad && m.Partition == partition && m.Offset >= from {
			first = min(first, m.Offset)
		}
	}
	return first
}
