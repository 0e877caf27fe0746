package streaming

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/segmentio/kafka-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/streampipe/streampipe/datasets"
	"github.com/streampipe/streampipe/rows"
)

// memSink is an in-memory sink: the first write of a row whose offset is in failOnce
// fails, every other write succeeds. It keeps the offsets written, in order, and,
// for each retried write (sink.write), how many commit positions were handed over
// when it came.
type memSink struct {
	failOnce map[int64]bool
	commits  chan []kafka.Message // the finishing's, to look at when a retry comes

	mu               sync.Mutex
	written          []int64
	retried          []int64
	commitsAtRetries []int
}

func (s *memSink) awaitSlots(ctx context.Context) error { return ctx.Err() }

func (s *memSink) start(_ context.Context, rs []pendingRow) *writes {
	s.mu.Lock()
	defer s.mu.Unlock()
	ws := &writes{rows: len(rs)}
	for _, r := range rs {
		if s.failOnce[r.msg.Offset] {
			delete(s.failOnce, r.msg.Offset)
			r.err = errors.New("write timed out")
			ws.fail(r)
			continue
		}
		s.written = append(s.written, r.msg.Offset)
	}
	return ws
}

func (s *memSink) write(ctx context.Context, rs []pendingRow) ([]pendingRow, error) {
	s.mu.Lock()
	for _, r := range rs {
		s.retried = append(s.retried, r.msg.Offset)
	}
	s.commitsAtRetries = append(s.commitsAtRetries, len(s.commits))
	s.mu.Unlock()
	return s.start(ctx, rs).wait()
}

func (s *memSink) rejected(error) bool { return false }

// Two batches are written at once; the first write of a row of the first batch
// fails and is retried after the second batch is written whole. The batches still
// finish in order: no commit position is handed over before the retried row is
// written, and the positions handed over are the first batch's last record, then the
// second's, never beyond a record not written.
func TestFinishInOrderWhenAFirstWriteIsRetried(t *testing.T) {
	w, err := New(Config{Brokers: []string{"k:9092"}, Topic: "t", Hosts: []string{"c"}, Keyspace: "ks", Table: "tb"},
		datasets.Users.Rows, NewMetrics(prometheus.NewRegistry()))
	require.NoError(t, err)
	ctx := t.Context()
	commits := make(chan []kafka.Message, 10) // never full: the finishing never waits on it
	sink := &memSink{failOnce: map[int64]bool{1: true}, commits: commits}
	columns := len(datasets.Users.Rows.Columns())
	at := time.Now().Truncate(time.Millisecond)
	batch := func(from, to int64) []item {
		var b []item
		for o := from; o <= to; o++ {
			values := make([]any, columns)
			for i := range values {
				values[i] = o
			}
			b = append(b, item{msg: kafka.Message{Topic: "t", Offset: o, Time: at}, size: 10,
				row: rows.Row{Values: values, WriteTime: at.Add(time.Duration(o) * time.Millisecond)}})
		}
		return b
	}
	f := &finishing{queue: newDeadQueue(), offs: newOffsets(), held: newBudget(1 << 20), commits: commits, free: make(chan []item, 2)}
	require.NoError(t, f.held.acquire(ctx, 60))

	started := make(chan *inHand, 2)
	started <- w.start(ctx, sink, batch(0, 2))
	started <- w.start(ctx, sink, batch(3, 5))
	close(started)
	require.NoError(t, w.finishBatches(ctx, sink, started, f, func() {}))
	close(commits)

	assert.Equal(t, []int64{0, 2, 3, 4, 5, 1}, sink.written, "the second batch is written before the retry")
	assert.Equal(t, []int64{1}, sink.retried)
	assert.Equal(t, []int{0}, sink.commitsAtRetries, "nothing is committed before the retried row is written")
	var committed []int64
	for positions := range commits {
		require.Len(t, positions, 1, "one partition")
		committed = append(committed, positions[0].Offset)
	}
	assert.True(t, slices.IsSorted(committed), "positions in order: %v", committed)
	require.NotEmpty(t, committed)
	assert.Subset(t, []int64{2, 5}, committed, "only the batches' last records")
	assert.EqualValues(t, 5, committed[len(committed)-1])
}
