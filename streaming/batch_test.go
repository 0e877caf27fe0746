package streaming

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/segmentio/kafka-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/streampipe/streampipe/datasets"
)

func TestCollect(t *testing.T) {
	const wait = 50 * time.Millisecond
	t.Run("stops at max rows", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			in := make(chan int, 10)
			for i := range 10 {
				in <- i
			}
			batch, more := collect(t.Context(), in, 4, wait, nil)
			assert.Equal(t, []int{0, 1, 2, 3}, batch)
			assert.True(t, more)
		})
	})
	t.Run("stops after the wait, counted from the first item", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			in := make(chan int)
			go func() {
				time.Sleep(time.Hour) // an idle topic: the wait starts with the first item
				in <- 1
				time.Sleep(wait / 2)
				in <- 2
				time.Sleep(wait)
				in <- 3
			}()
			start := time.Now()
			batch, more := collect(t.Context(), in, 100, wait, nil)
			assert.Equal(t, []int{1, 2}, batch)
			assert.True(t, more)
			assert.Equal(t, time.Hour+wait, time.Since(start))
			batch, _ = collect(t.Context(), in, 100, wait, nil)
			assert.Equal(t, []int{3}, batch)
		})
	})
	t.Run("with no wait, takes what is there and returns at once", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			in := make(chan int, 10)
			go func() {
				in <- 1
				in <- 2
				time.Sleep(time.Millisecond)
				in <- 3
			}()
			start := time.Now()
			batch, more := collect(t.Context(), in, 100, 0, nil)
			assert.Equal(t, []int{1}, batch[:1])
			assert.True(t, more)
			assert.Zero(t, time.Since(start), "no wait after the first item")
			rest, _ := collect(t.Context(), in, 100, 0, nil)
			assert.Equal(t, []int{1, 2, 3}, append(batch, rest...), "the next batch takes what came meanwhile")
			in <- 4
			in <- 5
			in <- 6
			batch, _ = collect(t.Context(), in, 2, 0, nil)
			assert.Equal(t, []int{4, 5}, batch, "at most maxRows")
		})
	})
	t.Run("returns what it holds when the input closes", func(t *testing.T) {
		in := make(chan int, 2)
		in <- 1
		close(in)
		batch, more := collect(t.Context(), in, 100, time.Hour, nil)
		assert.Equal(t, []int{1}, batch)
		assert.False(t, more)
	})
	t.Run("returns the batch in hand when the context ends", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			ctx, cancel := context.WithCancel(t.Context())
			in := make(chan int, 1)
			in <- 1
			time.AfterFunc(time.Second, cancel)
			batch, more := collect(ctx, in, 100, time.Hour, nil)
			assert.Equal(t, []int{1}, batch)
			assert.False(t, more)
		})
	})
	t.Run("reuses the buffer", func(t *testing.T) {
		in := make(chan int, 2)
		in <- 1
		in <- 2
		buf := make([]int, 0, 2)
		batch, _ := collect(t.Context(), in, 2, wait, buf)
		assert.Equal(t, []int{1, 2}, batch)
		assert.Same(t, &buf[:1][0], &batch[0])
	})
}

func TestLastPerPartition(t *testing.T) {
	var batch []item
	for _, po := range [][2]int{{2, 10}, {0, 5}, {2, 11}, {1, 7}, {0, 6}} {
		batch = append(batch, item{msg: kafka.Message{Partition: po[0], Offset: int64(po[1])}})
	}
	got := lastPerPartition(batch)
	require.Len(t, got, 3)
	assert.Equal(t, []int64{11, 6, 7}, []int64{got[0].Offset, got[1].Offset, got[2].Offset})
}

// startedBatch is a micro-batch of one record at offset of partition 0 whose write
// is in flight until the returned function is called with its outcome.
func startedBatch(offset int64) (h *inHand, end func(err error)) {
	batch := []item{{msg: kafka.Message{Topic: "t", Partition: 0, Offset: offset, Time: time.Now()}, size: 10}}
	ws := &writes{rows: 1}
	ws.wg.Add(1)
	h = &inHand{batch: batch, rows: []pendingRow{{msg: &batch[0].msg, size: 10}}, writes: ws, start: time.Now()}
	return h, func(err error) {
		if err != nil {
			r := h.rows[0]
			r.err = err
			ws.fail(r)
		}
		ws.wg.Done()
	}
}

// inHandPair is two micro-batches in hand, of offsets 10 and 11 of partition 0,
// whose writes end when a test says, and what their finishing commits.
type inHandPair struct {
	w                   *Worker
	f                   *finishing
	commits             chan []kafka.Message
	started             chan *inHand
	endFirst, endSecond func(error)
}

// newInHandPair makes a pair whose committer takes up to queued positions before it
// is read.
func newInHandPair(t *testing.T, queued int) *inHandPair {
	commits := make(chan []kafka.Message, queued)
	p := &inHandPair{w: testWorker(t), commits: commits, started: make(chan *inHand, 2),
		f: &finishing{queue: newDeadQueue(), offs: newOffsets(), held: newBudget(1 << 20), commits: commits, free: make(chan []item, 4)}}
	first, endFirst := startedBatch(10)
	second, endSecond := startedBatch(11)
	p.started <- first
	p.started <- second
	close(p.started)
	p.endFirst, p.endSecond = endFirst, endSecond
	return p
}

// finish finishes the pair with ctx in the background; stop is told when the
// worker must stop.
func (p *inHandPair) finish(ctx context.Context, stop func()) <-chan error {
	done := make(chan error)
	go func() { done <- p.w.finishBatches(ctx, &table{}, p.started, p.f, stop) }()
	return done
}

// Micro-batches in hand are finished in order: one whose writes end before an
// earlier one's commits nothing until the earlier one is written, then both are
// committed, in order (the committer may get only the newest position).
func TestBatchesFinishInOrder(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := newInHandPair(t, 10)
		done := p.finish(t.Context(), func() {})
		p.endSecond(nil)
		synctest.Wait()
		assert.Empty(t, p.commits, "committed while an earlier batch was being written")
		p.endFirst(nil)
		require.NoError(t, <-done)
		close(p.commits)
		var offsets []int64
		for c := range p.commits {
			require.Len(t, c, 1, "one partition")
			offsets = append(offsets, c[0].Offset)
		}
		assert.Contains(t, [][]int64{{10, 11}, {11}}, offsets, "the positions handed to the committer")
	})
}

// Finishing a batch does not wait for the committer to take the previous one's
// position: with a committer that is busy, both batches are finished (their bytes
// given back), and it then gets the newest position.
func TestBatchesDoNotWaitForTheCommitter(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := newInHandPair(t, 0)
		require.NoError(t, p.f.held.acquire(t.Context(), 20)) // the two records' bytes
		done := p.finish(t.Context(), func() {})
		p.endFirst(nil)
		p.endSecond(nil)
		synctest.Wait()
		assert.NoError(t, p.f.held.await(t.Context(), 1<<20), "the bytes of both batches are given back")
		c := <-p.commits
		require.Len(t, c, 1, "one partition")
		assert.Equal(t, int64(11), c[0].Offset, "the newest position")
		require.NoError(t, <-done)
	})
}

// A batch whose writes fail when the drain's time is up ends the worker: the
// batches after it, written or not, commit nothing.
func TestBatchGivenUpCommitsNothingAfter(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := newInHandPair(t, 10)
		drain, timeUp := context.WithCancel(t.Context())
		stopped := false
		done := p.finish(drain, func() { stopped = true })
		p.endSecond(nil)
		timeUp()
		p.endFirst(errors.New("write timeout"))
		err := <-done
		require.Error(t, err)
		assert.Contains(t, err.Error(), "gave up at shutdown, nothing committed")
		assert.True(t, stopped, "the loop was told to stop")
		assert.Empty(t, p.commits)
	})
}

// testWorker is a worker for tests of its batch handling: nothing it names is reached.
func testWorker(t *testing.T) *Worker {
	w, err := New(Config{Brokers: []string{"k:9092"}, Topic: "t", Hosts: []string{"c"}, Keyspace: "ks", Table: "tb"},
		datasets.Users.Rows, NewMetrics(prometheus.NewRegistry()))
	require.NoError(t, err)
	return w
}
