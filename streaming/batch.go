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
	if wait == 0 {
		return takeReady(in, maxRows, batch)
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

// takeReady appends to batch what in holds already, until batch holds maxRows
// items, without waiting. more is false once in is closed.
func takeReady[T any](in <-chan T, maxRows int, batch []T) (_ []T, more bool) {
	for len(batch) < maxRows {
		select {
		case item, ok := <-in:
			if !ok {
				return batch, false
			}
			batch = append(batch, item)
		default:
			return batch, true
		}
	}
	return batch, true
}
