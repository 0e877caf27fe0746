package streaming_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/streampipe/streampipe/internal/testkit/kafkatest"
	"github.com/streampipe/streampipe/internal/testkit/stacktest"
	"github.com/streampipe/streampipe/rows"
)

// A dead-letter topic deleted (auto-create off) holds the commit of the partitions
// with dead letters only: poison records on partition 0 of three, good records on
// all. Partitions 1 and 2 go on being written and committed; partition 0's rows are
// written but its commit stays at its first poison record; /healthz and
// streaming_stuck_seconds name the wait. Once the topic is back, every poison record
// is in it exactly once, every good record is a row and every offset is committed.
func TestDLQDeletedHoldsOnlyItsPartitions(t *testing.T) {
	stacktest.Needs(t, stacktest.NeedsCassandra, stacktest.NeedsScript)
	k := stacktest.PrivateKafka(t, "../stack/stack.sh")
	p := newPipeOn(t, k.Brokers, 3)
	hash := &kafka.Hash{}
	p.producer.Balancer = kafka.BalancerFunc(func(m kafka.Message, partitions ...int) int {
		if bytes.HasPrefix(m.Key, []byte("poison-")) {
			return partitions[0]
		}
		return hash.Balance(m, partitions...)
	})
	w := startProc(t, p, "worker")
	w.waitHealthy(t, "the worker does not get ready")

	p.deleteTopic(t, p.dlq)

	l := newLoad()
	p.produce(l.messages(newIDs(300), 1, 10, time.Now())) // 30 poison records, all on partition 0
	src := p.readAll(p.topic)
	end, _, err := p.partitionOffsets(context.Background())
	require.NoError(t, err)
	require.Len(t, end, 3)
	for part := 1; part < 3; part++ {
		require.Positive(t, end[part], "good records on partition %d", part)
	}
	poisonAt := firstDead(src, l, 0, 0, end[0])
	require.Less(t, poisonAt, end[0], "a poison record on partition 0")
	t.Logf("end offsets %v; first poison record on partition 0 at %d", end, poisonAt)

	held := func(end map[int]int64, what string) {
		t.Helper()
		want := map[int]int64{0: poisonAt, 1: end[1], 2: end[2]}
		require.EventuallyWithT(t, func(c *assert.CollectT) {
			_, committed, err := p.partitionOffsets(context.Background())
			if assert.NoError(c, err) {
				assert.Equal(c, want, committed, "committed offsets")
			}
			code, body, _ := w.healthz()
			assert.Equal(c, http.StatusServiceUnavailable, code)
			assert.Contains(c, body, "waiting for dead-letter topic "+p.dlq)
		}, time.Minute, 200*time.Millisecond, what)
	}
	held(end, "partitions 1 and 2 committed to their end, partition 0 to its first poison record")
	w.waitMetric("streaming_rows_written_total", float64(len(l.users)), time.Minute)
	p.checkRows(l) // partition 0's good records too: rows after a held record are written

	// More good records on every partition: 1 and 2 go on, 0 stays.
	p.produce(l.messages(newIDs(300), 1, 0, time.Now()))
	end, _, err = p.partitionOffsets(context.Background())
	require.NoError(t, err)
	held(end, "partitions 1 and 2 go on while partition 0 waits")
	w.waitMetric("streaming_rows_written_total", float64(len(l.users)), time.Minute)
	var stuck float64
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		var err error
		stuck, err = w.metric(`streaming_stuck_seconds{dataset="users",stage="dlq"}`)
		if assert.NoError(c, err) {
			assert.GreaterOrEqual(c, stuck, 3.0, "streaming_stuck_seconds")
		}
	}, time.Minute, 200*time.Millisecond, "streaming_stuck_seconds does not grow")
	deadCount, _ := w.metric("streaming_dlq_records_total") // absent until the first is written
	assert.Zero(t, deadCount, "dead letters counted as written while the topic is missing")

	t.Logf("streaming_stuck_seconds read %.1f before the dead-letter topic is back", stuck)
	p.dlqBack(w, l, func() { kafkatest.NewTopic(t, p.client, kafka.TopicConfig{Topic: p.dlq, NumPartitions: 1}) })
}

// Dead letters in waiting are bounded by STREAMING_MAX_BUFFER_BYTES: with the
// dead-letter topic deleted, poison records of 200 KiB and a budget of 1 MiB, the
// worker stops fetching after about five of them. Stopped then, it commits none of
// them; the next worker dead-letters each once.
func TestDLQWaitingBoundedByBudget(t *testing.T) {
	stacktest.Needs(t, stacktest.NeedsCassandra, stacktest.NeedsScript)
	k := stacktest.PrivateKafka(t, "../stack/stack.sh")
	p := newPipeOn(t, k.Brokers, 1)
	w := startProc(t, p, "worker", "STREAMING_MAX_BUFFER_BYTES="+strconv.Itoa(1<<20), "STREAMING_DRAIN_TIMEOUT=3s")
	w.waitHealthy(t, "the worker does not get ready")
	p.deleteTopic(t, p.dlq)

	l := newLoad()
	var msgs []kafka.Message
	for i := range 20 {
		key := fmt.Sprintf("big-%d", i)
		msgs = append(msgs, kafka.Message{Key: []byte(key), Value: bytes.Repeat([]byte{'x'}, 200<<10), Time: time.Now()})
		l.invalid[key]++
		l.reason[key] = rows.ReasonNotJSON
	}
	p.produce(msgs)
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		stuck, err := w.metric(`streaming_stuck_seconds{dataset="users",stage="dlq"}`)
		if assert.NoError(c, err) {
			assert.GreaterOrEqual(c, stuck, 3.0, "streaming_stuck_seconds")
		}
	}, time.Minute, 200*time.Millisecond, "the worker does not wait for the dead-letter topic")
	consumed, err := w.metric("streaming_records_consumed_total")
	require.NoError(t, err)
	t.Logf("records taken from kafka while 20 dead letters of 200 KiB wait, with a budget of 1 MiB: %.0f", consumed)
	assert.LessOrEqual(t, consumed, 7.0, "records taken while their dead letters cannot be written")

	// Stopped while its dead letters wait, the worker gives them up after
	// STREAMING_DRAIN_TIMEOUT and commits nothing past them; the next worker
	// creates the dead-letter topic, as any worker does at start, and takes them
	// again from the commit.
	require.NoError(t, w.terminate(30*time.Second), "the worker's exit while dead letters wait")
	assert.Contains(t, w.logs.String(), "stopping with dead letters not written")
	_, committed, err := p.partitionOffsets(context.Background())
	require.NoError(t, err)
	assert.Equal(t, map[int]int64{0: 0}, committed, "committed offsets after the stop")
	startProc(t, p, "second worker")
	p.waitCaughtUp(time.Minute)
	p.checkDLQ(l, true)
}
