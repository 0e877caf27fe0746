package streaming

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"
)

const (
	backoffMin = 100 * time.Millisecond
	backoffMax = 5 * time.Second
)

// backoff yields exponentially growing waits with jitter, from backoffMin to backoffMax.
type backoff struct{ d time.Duration }

func newBackoff() *backoff { return &backoff{d: backoffMin} }

func (b *backoff) next() time.Duration {
	d := b.d
	b.d = min(2*b.d, backoffMax)
	return d/2 + rand.N(d/2+1)
}

// sleep waits for d or until ctx is done, and then returns ctx.Err().
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// giveUp marks an error of a start-up attempt that retrying will not cure.
type giveUp struct{ err error }

func (g giveUp) Error() string { return g.err.Error() }
func (g giveUp) Unwrap() error { return g.err }

// await calls attempt until it succeeds, for at most StartupTimeout, backing off
// between attempts: start-up waits so for a server that may still be booting. It logs one warning
// when it starts waiting and one info line when it gets through, and says on
// /healthz what it waits for. An error wrapped in giveUp ends it at once; the error
// after the timeout names the server and adds advice.
func (w *Worker) await(ctx context.Context, srv server, advice string, attempt func(context.Context) error) error {
	start := time.Now()
	deadline := start.Add(w.cfg.StartupTimeout)
	defer w.waiting.Store(nil)
	server := srv.at
	w.waiting.Store(&status{public: "connecting to " + srv.public, detail: "connecting to " + server})
	for b, waited := newBackoff(), false; ; {
		err := attempt(ctx)
		if err == nil {
			if waited {
				w.log.Info(server+" answers; going on", "waited", time.Since(start).Round(time.Millisecond))
			}
			return nil
		}
		if g, ok := errors.AsType[giveUp](err); ok {
			return g.err
		}
		left := time.Until(deadline)
		if left <= 0 {
			return fmt.Errorf("%s is unreachable after %v: %s: %w", server, w.cfg.StartupTimeout, advice, err)
		}
		if !waited {
			waited = true
			w.log.Warn(server+" does not answer yet; waiting for it", "for_at_most", w.cfg.StartupTimeout, "err", err)
		}
		w.waiting.Store(new(waitStatus(srv, start, err)))
		d := min(b.next(), left)
		w.log.Debug(server+" does not answer yet; retrying", "in", d, "err", err)
		if err := sleep(ctx, d); err != nil {
			return fmt.Errorf("waiting for %s: %w", server, err)
		}
	}
}
