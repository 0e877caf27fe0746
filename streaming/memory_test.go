package streaming_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/streampipe/streampipe/internal/stacktest"
	"github.com/streampipe/streampipe/streaming"
)

// Memory is bounded in bytes, not rows: 200 users of 256 KiB and records of 3 MiB
// (over STREAMING_MAX_RECORD_BYTES) consumed with STREAMING_MAX_BUFFER_BYTES=4 MiB
// keep the worker's RSS small; the same with a budget of 1 GiB (rows alone bound it,
// as before) is logged beside it.
func TestMemoryBoundedInBytes(t *testing.T) {
	stacktest.Needs(t, stacktest.NeedsKafka, stacktest.NeedsCassandra)
	bounded := memoryPeak(t, 4<<20)
	unbounded := memoryPeak(t, 1<<30)
	t.Logf("peak RSS: %d MiB with a 4 MiB budget, %d MiB with 1 GiB", bounded>>20, unbounded>>20)
	assert.Less(t, bounded, int64(64<<20), "peak RSS with a 4 MiB budget")
}

// memoryPeak runs a worker with the given buffer budget over a topic of large
// records and returns its peak RSS.
func memoryPeak(t *testing.T, budget int) int64 {
	p := newPipe(t, 0)
	res, err := p.client.CreateTopics(t.Context(), &kafka.CreateTopicsRequest{Topics: []kafka.TopicConfig{{
		Topic: p.topic, NumPartitions: 3, ReplicationFactor: 1,
		ConfigEntries: []kafka.ConfigEntry{{ConfigName: "max.message.bytes", ConfigValue: strconv.Itoa(8 << 20)}},
	}}})
	require.NoError(t, err)
	require.NoError(t, res.Errors[p.topic])
	p.producer.BatchBytes = 8 << 20

	l := newLoad()
	big := strings.Repeat("a", 256<<10)
	for i, id := range newIDs(200) {
		u := user(id, i, 1)
		u.Address = big
		value, err := json.Marshal(u)
		require.NoError(t, err)
		l.users[id] = u
		p.produce([]kafka.Message{{Key: []byte(id), Value: value, Time: time.Now()}})
		if i%40 == 0 { // a record too large to be taken whole
			key := fmt.Sprintf("huge-%d", i)
			p.produce([]kafka.Message{{Key: []byte(key), Value: bytes.Repeat([]byte{'{'}, 3<<20), Time: time.Now()}})
			l.invalid[key]++
		}
	}

	w := startProc(t, p, fmt.Sprint("budget ", budget), "STREAMING_MAX_BUFFER_BYTES="+strconv.Itoa(budget))
	var peak int64
	ctx, cancel := context.WithCancel(context.Background())
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		for ctx.Err() == nil {
			peak = max(peak, rss(w.cmd.Process.Pid))
			time.Sleep(10 * time.Millisecond)
		}
	}()
	p.waitCaughtUp(2 * time.Minute)
	cancel()
	<-sampled
	require.NoError(t, w.terminate(30*time.Second))
	p.checkRows(l)

	dead := p.readAll(p.dlq)
	assert.Len(t, dead, len(l.invalid), "dead letters")
	for _, m := range dead {
		h := headers(m)
		assert.Equal(t, streaming.ReasonTooLarge, h[streaming.HeaderReason])
		assert.Equal(t, "true", h[streaming.HeaderTruncated])
		assert.Equal(t, 16<<10, len(m.Value), "the dead letter holds the value's beginning")
	}
	return peak
}

// rss returns a process's resident set size in bytes (0 once it is gone).
func rss(pid int) int64 {
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for line := range strings.Lines(string(status)) {
		if kb, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			n, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(kb), "kB")), 10, 64)
			return n << 10
		}
	}
	return 0
}
