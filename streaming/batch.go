package streaming

import (
	"context"
	"time"
)

// collect gathers the next micro-batch from in into buf[:0]: it waits for a first
// item, then takes more until the batch holds maxRows items or wait has passed since
// the first arrived. more is false once in is closed or ctx is done; the batch
// returned with it holds what had arrived by then, possibly nothing.
func collect[T any](ctx context.Context, in <-chan T, maxRows int, wait time.Duration, buf []T) (batch []T, more bool) {
	batch = buf[:0]
	select {
	case item, ok := <-in:
		if !ok {
			return batch, false
		}
		batch = append(batch, item)
	case <-ctx.Done():
		return batch, false
	}
	timer := time.NewTimer(wait)
	defer timer.Stop()
	for len(batch) < maxRows {
		select {
		case item, ok := <-in:
			if !ok {
				return batch, false
			}
			batch = append(batch, item)
		case <-timer.C:
			return batch, true
		case <-ctx.Done():
			return batch, false
		}
	}
	return batch, true
}
