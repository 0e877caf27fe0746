package streaming

import (
	"context"
	"sync"
)

// budget bounds the bytes of the records a worker holds between fetch and the end of
// their batch's write: the fetch goroutine acquires a record's bytes before it queues
// the record, and the batch releases them once written. One record larger than the
// whole budget still passes when nothing else is held, so nothing ever waits forever.
// A table's write slots are a budget too, of Concurrency writes.
type budget struct {
	mu    sync.Mutex
	max   int
	used  int
	freed chan struct{} // closed, and replaced, whenever bytes are released
}

func newBudget(max int) *budget { return &budget{max: max, freed: make(chan struct{})} }

// acquire takes n bytes, waiting while they would exceed the budget, until ctx is done.
func (b *budget) acquire(ctx context.Context, n int) error { return b.wait(ctx, n, true) }

// await waits until n bytes could be acquired, until ctx is done, and takes nothing.
func (b *budget) await(ctx context.Context, n int) error { return b.wait(ctx, n, false) }

func (b *budget) wait(ctx context.Context, n int, take bool) error {
	for {
		b.mu.Lock()
		if b.used == 0 || b.used+n <= b.max {
			if take {
				b.used += n
			}
			b.mu.Unlock()
			return nil
		}
		freed := b.freed
		b.mu.Unlock()
		select {
		case <-freed:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// release gives n bytes back.
func (b *budget) release(n int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.used -= n
	close(b.freed)
	b.freed = make(chan struct{})
}

// MemoryBound is about the most memory the worker's records take at once: its
// budget's worth between fetch and write, the reader's queue, a rebuilt fetch
// response and the record beyond it (per partition fetched at that moment), and the
// zstd decoder's window. A main sets the Go runtime's memory limit from it.
func (w *Worker) MemoryBound() int {
	c := w.cfg
	return c.MaxBufferBytes + queueCapacity(c)*c.MaxRecordBytes + w.bounds.Held() + c.MaxRecordBytes
}
