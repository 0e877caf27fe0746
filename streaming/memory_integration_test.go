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
	"github.com/segmentio/kafka-go/compress"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/streampipe/streampipe/internal/testkit/kafkatest"
	"github.com/streampipe/streampipe/internal/testkit/stacktest"
	"github.com/streampipe/streampipe/rows"
	"github.com/streampipe/streampipe/streaming"
	"github.com/streampipe/streampipe/streaming/fetchcut"
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
	p := newLargePipe(t, 3, 8<<20)

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
		assert.Equal(t, rows.ReasonTooLarge, h[rows.HeaderReason])
		assert.Equal(t, "true", h[rows.HeaderTruncated])
		assert.Equal(t, 16<<10, len(m.Value), "the dead letter holds the value's beginning")
	}
	return peak
}

// newLargePipe is a pipe whose topic, of the given partitions, and producer take
// messages of up to maxBytes.
func newLargePipe(t *testing.T, partitions, maxBytes int) *pipe {
	p := newPipe(t, 0)
	kafkatest.NewTopic(t, p.client, kafka.TopicConfig{Topic: p.topic, NumPartitions: partitions,
		ConfigEntries: []kafka.ConfigEntry{{ConfigName: "max.message.bytes", ConfigValue: strconv.Itoa(maxBytes)}}})
	p.producer.BatchBytes = int64(maxBytes)
	return p
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

// The worker's memory is bounded before decompression and before a whole value is
// held: with the default budget (STREAMING_MAX_BUFFER_BYTES, sized for 64 MiB), its
// peak RSS (VmHWM) stays under 64 MiB while it consumes, between valid records,
// (a) three values of 20 MiB, (b) one zstd record batch of 500 records of 1 MiB + 1
// byte (about 50 KiB compressed, 500 MiB decompressed), (c) the same with gzip (200 MiB),
// lz4 and snappy (100 MiB each): each large record is dead-lettered once,
// cut to 16 KiB, with reason too_large. Also (d) a zstd batch of 100 records just
// under the limit, which the worker holds whole (dead-lettered whole as not_json),
// and (e) a zstd batch whose frame asks for a 64 MiB window, more than the worker
// decodes: one dead letter, undecodable, stands for its records. The valid records
// around them are written and every offset is committed.
func TestMemoryHugeRecordsAndBombs(t *testing.T) {
	stacktest.Needs(t, stacktest.NeedsKafka, stacktest.NeedsCassandra)
	huge := func(_ *testing.T, p *pipe, l *load) {
		for i := range 3 {
			key := fmt.Sprintf("huge-%d", i)
			p.produce([]kafka.Message{{Key: []byte(key), Value: bytes.Repeat([]byte{'{'}, 20<<20), Time: time.Now()}})
			l.invalid[key]++
		}
	}
	bomb := func(codec kafka.Compression, n, size int) func(t *testing.T, p *pipe, l *load) {
		return func(t *testing.T, p *pipe, l *load) { produceBomb(t, p, l, codec, n, size) }
	}
	wide := func(t *testing.T, p *pipe, l *load) {
		zstdCodec := compress.Codecs[compress.Zstd]
		compress.Codecs[compress.Zstd] = fetchcut.WideZstd{Codec: zstdCodec}
		defer func() { compress.Codecs[compress.Zstd] = zstdCodec }()
		produceBomb(t, p, newLoad(), kafka.Zstd, 20, 1<<20-1024) // its records are not dead-lettered one by one
		l.invalid[""]++                                          // but named by one, without a key
	}
	// Two million empty headers: 4 MB on the wire, some kilobytes compressed, and
	// 80 MB of kafka.Headers if kafka-go got them all.
	emptyHeaders := func(t *testing.T, p *pipe, l *load) {
		empty := make([]kafka.Header, 2_000_000)
		p.produceWith(t, kafka.Zstd, kafka.Message{Key: []byte("headers-0"), Value: []byte("{}"), Headers: empty, Time: time.Now()})
		l.invalid["headers-0"]++
	}
	const limit = streaming.DefaultMaxRecordBytes
	for _, c := range []struct {
		name       string
		produce    func(t *testing.T, p *pipe, l *load)
		reason     string
		detail     string // in dlq.error
		valueBytes int    // of each dead letter
	}{
		{"values of 20 MiB", huge, rows.ReasonTooLarge, "value is 20971520 bytes", 16 << 10},
		{"zstd bomb of 500 MiB", bomb(kafka.Zstd, 500, limit+1), rows.ReasonTooLarge, "value is 1048577 bytes", 16 << 10},
		{"gzip bomb of 200 MiB", bomb(kafka.Gzip, 200, limit+1), rows.ReasonTooLarge, "value is 1048577 bytes", 16 << 10},
		{"lz4 bomb of 100 MiB", bomb(kafka.Lz4, 100, limit+1), rows.ReasonTooLarge, "value is 1048577 bytes", 16 << 10},
		{"snappy bomb of 100 MiB", bomb(kafka.Snappy, 100, limit+1), rows.ReasonTooLarge, "value is 1048577 bytes", 16 << 10},
		{"zstd batch of 100 records under the limit", bomb(kafka.Zstd, 100, limit-1024), rows.ReasonNotJSON, "invalid character", limit - 1024},
		{"zstd window of 64 MiB", wide, rows.ReasonUndecodable, "window size exceeded", 0},
		{"two million empty headers", emptyHeaders, rows.ReasonTooLarge, "headers of 80000000 bytes", 2},
	} {
		t.Run(c.name, func(t *testing.T) {
			p := newLargePipe(t, 1, 32<<20)
			w := startProc(t, p, "worker")
			w.waitHealthy(t, "the worker does not get ready")
			idle := peakRSS(t, w.cmd.Process.Pid)

			l := newLoad()
			p.produce(l.messages(newIDs(50), 1, 0, time.Now()))
			c.produce(t, p, l)
			p.produce(l.messages(newIDs(50), 1, 0, time.Now()))
			p.waitCaughtUp(3 * time.Minute)
			peak := peakRSS(t, w.cmd.Process.Pid)
			t.Logf("worker peak RSS (VmHWM) with the default budget: %.0f MiB before the load, %.0f MiB after", idle/(1<<20), peak/(1<<20))
			assert.Less(t, peak, float64(64<<20), "peak RSS")
			require.True(t, w.alive())
			require.NoError(t, w.terminate(30*time.Second))

			p.checkRows(l)
			got := map[string]int{}
			for _, m := range p.readAll(p.dlq) {
				got[string(m.Key)]++
				h := headers(m)
				assert.Equal(t, c.reason, h[rows.HeaderReason], h[rows.HeaderError])
				assert.Contains(t, h[rows.HeaderError], c.detail)
				assert.Equal(t, c.valueBytes, len(m.Value), "the dead letter's value")
				if c.reason == rows.ReasonTooLarge {
					assert.Equal(t, "true", h[rows.HeaderTruncated])
				}
			}
			assert.Equal(t, l.invalid, got, "dead-lettered keys and how often")
		})
	}
}

// produceWith produces msgs in one record batch compressed with codec.
func (p *pipe) produceWith(t *testing.T, codec kafka.Compression, msgs ...kafka.Message) {
	w := &kafka.Writer{Addr: kafka.TCP(p.brokers...), Topic: p.topic, Compression: codec,
		BatchSize: len(msgs) + 1, BatchBytes: 1 << 30, BatchTimeout: 5 * time.Millisecond, RequiredAcks: kafka.RequireAll,
		WriteTimeout: 3 * time.Minute, Transport: p.producer.Transport}
	defer w.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	require.NoError(t, w.WriteMessages(ctx, msgs...))
	require.EqualValues(t, 1, w.Stats().Writes, "produce requests: one batch")
}

// produceBomb produces one record batch, compressed with codec, of n records of size
// bytes, all one repeated byte (not JSON).
func produceBomb(t *testing.T, p *pipe, l *load, codec kafka.Compression, n, size int) {
	// Compressing takes the writer long under the race detector (lz4 most): it may.
	// The pipe's transport: kafka-go's shared default one may not know the topic yet.
	value := bytes.Repeat([]byte{'{'}, size)
	bomb := make([]kafka.Message, n)
	for i := range bomb {
		key := fmt.Sprintf("bomb-%d", i)
		bomb[i] = kafka.Message{Key: []byte(key), Value: value, Time: time.Now()}
		l.invalid[key]++
	}
	p.produceWith(t, codec, bomb...)
	t.Logf("the bomb: %d records of %d bytes in one %s batch, %d MiB decompressed", n, len(value), codec, n*size>>20)
}
