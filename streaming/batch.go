package streaming

import (
	"context"
	"time"
)

// collect gathers the next micro-batch from in into buf[:0]: it waits for a first
// item, then takes more until the batch holds maxRows items or wait has passed since
// the first arrived. A wait of 0 takes only what is already there: the batch is
// written as soon as the previous one is, and items that arrive meanwhile make the
// next batch, so that batches grow with the load without adding a fixed delay to
// every record. more is false once in is closed or ctx is done; the batch returned
// with it holds what had arrived by then, possibly nothing.
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
	var expired <-chan time.Time // with no wait, nil: only what is there already is taken
	if wait > 0 {
		timer := time.NewTimer(wait)
		defer timer.Stop()
		expired = timer.C
	}
	for len(batch) < maxRows {
		var item T
		var ok bool
		if expired == nil {
			select {
			case item, ok = <-in:
			default:
				return batch, true
			}
		} else {
			select {
			case item, ok = <-in:
			case <-expired:
				return batch, true
			case <-ctx.Done():
				return batch, false
			}
		}
		if !ok {
			return batch, false
		}
		batch = append(batch, item)
	}
	return batch, true
}
