package streaming_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
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

// Records larger than the limit and a compression bomb, on a Kafka of the test's own,
// with STREAMING_MAX_BUFFER_BYTES=4 MiB: three records of 20 MiB, then one zstd batch
// of 200 records of 1 MiB + 1 byte (a few hundred KiB compressed, 200 MiB
// decompressed). Each is dead-lettered truncated, once. The worker's peak RSS in each
// phase is logged, not asserted: kafka-go reads each record whole and decompresses a
// batch whole before the worker sees it (docs/failure-modes.md says what that costs).
func TestMemoryHugeRecordsAndZstdBomb(t *testing.T) {
	stacktest.Needs(t, stacktest.NeedsCassandra, stacktest.NeedsScript)
	k := stacktest.PrivateKafka(t, "../stack/stack.sh")
	p := newPipeOn(t, k.Brokers, 0)
	res, err := p.client.CreateTopics(t.Context(), &kafka.CreateTopicsRequest{Topics: []kafka.TopicConfig{{
		Topic: p.topic, NumPartitions: 1, ReplicationFactor: 1,
		ConfigEntries: []kafka.ConfigEntry{{ConfigName: "max.message.bytes", ConfigValue: strconv.Itoa(32 << 20)}},
	}}})
	require.NoError(t, err)
	require.NoError(t, res.Errors[p.topic])
	const budget = 4 << 20
	w := startProc(t, p, "worker", "STREAMING_MAX_BUFFER_BYTES="+strconv.Itoa(budget))
	w.waitHealthy(t, "the worker does not get ready")

	var peak atomic.Int64
	ctx, cancel := context.WithCancel(context.Background())
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		for ctx.Err() == nil {
			if r := rss(w.cmd.Process.Pid); r > peak.Load() {
				peak.Store(r)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}()
	defer func() { cancel(); <-sampled }()
	baseline := rss(w.cmd.Process.Pid)
	l := newLoad()

	// Three records of 20 MiB, one at a time.
	p.producer.BatchBytes = 32 << 20
	for i := range 3 {
		key := fmt.Sprintf("huge-%d", i)
		p.produce([]kafka.Message{{Key: []byte(key), Value: bytes.Repeat([]byte{'{'}, 20<<20), Time: time.Now()}})
		l.invalid[key]++
	}
	p.waitCaughtUp(2 * time.Minute)
	huge := peak.Swap(rss(w.cmd.Process.Pid))

	// The bomb: one zstd record batch that decompresses to 200 MiB.
	bomber := &kafka.Writer{Addr: kafka.TCP(p.brokers...), Topic: p.topic, Compression: kafka.Zstd,
		BatchSize: 1000, BatchBytes: 512 << 20, BatchTimeout: 5 * time.Millisecond, RequiredAcks: kafka.RequireAll}
	defer bomber.Close()
	value := bytes.Repeat([]byte{'{'}, 1<<20+1)
	var bomb []kafka.Message
	for i := range 200 {
		key := fmt.Sprintf("bomb-%d", i)
		bomb = append(bomb, kafka.Message{Key: []byte(key), Value: value, Time: time.Now()})
		l.invalid[key]++
	}
	wctx, wcancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer wcancel()
	require.NoError(t, bomber.WriteMessages(wctx, bomb...))
	bomb = nil
	stats := bomber.Stats()
	t.Logf("the bomb: %d records of %d bytes in %d produce request(s), about %d KiB compressed", stats.Messages,
		len(value), stats.Writes, zstdSize(t, value, 200)>>10)
	p.waitCaughtUp(3 * time.Minute)
	bombed := peak.Load()

	t.Logf("worker RSS with a budget of %d MiB: %d MiB idle; peak %d MiB for records of 20 MiB; peak %d MiB for a "+
		"zstd batch of 200 MiB", budget>>20, baseline>>20, huge>>20, bombed>>20)
	require.True(t, w.alive())
	got := map[string]int{}
	for _, m := range p.readAll(p.dlq) {
		got[string(m.Key)]++
		h := headers(m)
		assert.Equal(t, streaming.ReasonTooLarge, h[streaming.HeaderReason])
		assert.Equal(t, "true", h[streaming.HeaderTruncated])
		assert.Equal(t, 16<<10, len(m.Value), "the dead letter holds the value's beginning")
	}
	assert.Equal(t, l.invalid, got, "dead-lettered keys and how often")
}

// zstdSize returns the size of n copies of value compressed with kafka-go's zstd codec
// (about what the record batch holds).
func zstdSize(t *testing.T, value []byte, n int) int {
	t.Helper()
	var c countingWriter
	zw := kafka.Zstd.Codec().NewWriter(&c)
	for range n {
		_, err := zw.Write(value)
		require.NoError(t, err)
	}
	require.NoError(t, zw.Close())
	return int(c)
}

type countingWriter int

func (c *countingWriter) Write(p []byte) (int, error) {
	*c += countingWriter(len(p))
	return len(p), nil
}
