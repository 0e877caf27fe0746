package streaming

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
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
	return w.startupStep(ctx, srv, step{bound: w.cfg.StartupTimeout, advice: advice}, attempt)
}

// prepare calls attempt, a start-up step on a server that has answered (creating
// the keyspace and table, or the topics), until it succeeds, however long it takes:
// what makes it fail for a while (a node down, a schema change that has not reached
// every node yet, too few brokers for a topic's replicas) is waited for as an outage
// is once the worker consumes: one warning, /healthz naming the wait, and
// streaming_stuck_seconds and streaming_retries_total of stage startup counting it.
// Only an error wrapped in giveUp (configuration that cannot work) ends it.
func (w *Worker) prepare(ctx context.Context, srv server, doing string, attempt func(context.Context) error) error {
	stuck := w.metrics.stuck.WithLabelValues(w.dataset.Name(), "startup")
	var stopTicking func()
	defer func() {
		if stopTicking != nil {
			stopTicking()
		}
		stuck.Set(0)
	}()
	return w.startupStep(ctx, srv, step{doing: doing, failed: func(start time.Time) {
		stuck.Set(time.Since(start).Seconds())
		if stopTicking == nil {
			stopTicking = tickStuck(stuck, start)
		}
		w.metrics.retries.WithLabelValues(w.dataset.Name(), "startup").Inc()
	}}, attempt)
}

// step is how startupStep waits: for await, bound and advice; for prepare, doing
// and failed.
type step struct {
	bound  time.Duration         // how long to wait at most; 0: until it succeeds
	advice string                // what to check, when bound is over
	doing  string                // what the attempt does ("creating keyspace and table"), for the log and /healthz
	failed func(start time.Time) // called after each failed attempt, start the first one's
}

// startupStep calls attempt until it succeeds, as s says, backing off between
// attempts. It logs one warning when it starts waiting and one info line when it
// gets through, and says on /healthz what it waits for. An error wrapped in giveUp
// ends it at once.
func (w *Worker) startupStep(ctx context.Context, srv server, s step, attempt func(context.Context) error) error {
	start := time.Now()
	deadline := start.Add(s.bound)
	defer w.waiting.Store(nil)
	server, doing := srv.at, ""
	first := status{public: "connecting to " + srv.public, detail: "connecting to " + server}
	if s.doing != "" {
		doing = " (" + s.doing + ")"
		first = status{public: s.doing + " on " + srv.public, detail: s.doing + " on " + server}
	}
	w.waiting.Store(&first)
	for b, waited := newBackoff(), false; ; {
		err := attempt(ctx)
		if err == nil {
			switch {
			case waited && s.doing != "":
				w.log.Info(s.doing+" on "+server+" succeeded; going on", "waited", time.Since(start).Round(time.Millisecond))
			case waited:
				w.log.Info(server+" answers; going on", "waited", time.Since(start).Round(time.Millisecond))
			}
			return nil
		}
		if g, ok := errors.AsType[giveUp](err); ok {
			return g.err
		}
		if s.failed != nil {
			s.failed(start)
		}
		left := time.Until(deadline)
		if s.bound > 0 && left <= 0 {
			return fmt.Errorf("%s is unreachable after %v: %s: %w", server, s.bound, s.advice, err)
		}
		if !waited {
			waited = true
			if s.bound > 0 {
				w.log.Warn(server+" does not answer yet; waiting for it", "for_at_most", s.bound, "err", err)
			} else {
				w.log.Warn(s.doing+" on "+server+" failed; retrying until it succeeds", "err", err)
			}
		}
		named := srv // the server, and what the attempt does
		named.at, named.public = srv.at+doing, srv.public+doing
		w.waiting.Store(new(waitStatus(named, start, err)))
		d := b.next()
		if s.bound > 0 {
			d = min(d, left)
		}
		w.log.Debug("retrying"+doing+" on "+server, "in", d, "err", err)
		if err := sleep(ctx, d); err != nil {
			return fmt.Errorf("waiting for %s: %w", server, err)
		}
	}
}

// retry calls fn until it succeeds, backing off between attempts (capped, with
// jitter), for as long as it takes: each failure goes to o, which logs the outage
// once. It gives up only on an error that will recur (fatal) or when ctx is done.
// The dead-letter topic has no fatal errors: one that is missing or that the worker
// may not write is waited for like an outage (named on /healthz, counted in
// streaming_stuck_seconds), so that granting the permission or creating the topic
// lets the worker go on by itself.
func (w *Worker) retry(ctx context.Context, stage string, o *outage, fn func(context.Context) error) error {
	stuck := w.metrics.stuck.WithLabelValues(w.dataset.Name(), stage)
	// After the first failure the gauge grows every second, also while an attempt
	// hangs (a write to a missing topic may wait for seconds). A batch written at the
	// first attempt, the usual case, starts nothing.
	var stopTicking func()
	defer func() {
		if stopTicking != nil {
			stopTicking()
		}
		stuck.Set(0)
	}()
	start := time.Now()
	for b := newBackoff(); ; {
		err := fn(ctx)
		if err == nil {
			o.ok()
			return nil
		}
		if stage != "dlq" && fatal(err) {
			return fmt.Errorf("writing a batch (%s), which cannot succeed: %w", stage, err)
		}
		o.fail(err)
		stuck.Set(time.Since(start).Seconds())
		if stopTicking == nil {
			stopTicking = tickStuck(stuck, start)
		}
		w.metrics.retries.WithLabelValues(w.dataset.Name(), stage).Inc()
		if sleep(ctx, b.next()) != nil {
			return fmt.Errorf("writing a batch (%s): gave up at shutdown, nothing committed: %w", stage, err)
		}
	}
}

// tickStuck sets the gauge to the time since start every second until the
// function it returns is called, which waits for it to stop.
func tickStuck(stuck prometheus.Gauge, start time.Time) (stop func()) {
	tick := time.NewTicker(time.Second)
	done := make(chan struct{})
	var ticking sync.WaitGroup
	ticking.Go(func() {
		for {
			select {
			case <-tick.C:
				stuck.Set(time.Since(start).Seconds())
			case <-done:
				return
			}
		}
	})
	return func() { close(done); tick.Stop(); ticking.Wait() }
}
