package streaming

import (
	"context"
	"errors"
	"fmt"
	"sync"
)

// Group runs the Workers of one process, one per dataset, side by side. Each has its
// own consumer group, dead-letter topic, table and Cassandra session, so one
// dataset's dead letters, retries or failure never hold up another's batches.
type Group struct {
	workers []*Worker

	mu     sync.Mutex
	failed map[*Worker]error // why a worker stopped for good
}

// NewGroup returns a Group of workers.
func NewGroup(workers ...*Worker) *Group {
	return &Group{workers: workers, failed: map[*Worker]error{}}
}

// Run runs every worker until ctx is done and returns once all have returned. A
// worker that stops with an error (one that retrying will not cure) is logged and
// left stopped while the others go on; Run then returns the errors of all such
// workers, each naming its dataset.
func (g *Group) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	for _, w := range g.workers {
		wg.Go(func() {
			if err := w.Run(ctx); err != nil {
				w.log.Error("stopped; the other datasets go on", "err", err)
				g.mu.Lock()
				g.failed[w] = err
				g.mu.Unlock()
			}
		})
	}
	wg.Wait()
	var errs []error
	for _, w := range g.workers {
		if err := g.failed[w]; err != nil {
			errs = append(errs, fmt.Errorf("dataset %s: %w", w.Name(), err))
		}
	}
	return errors.Join(errs...)
}

// Ready returns nil when every worker is consuming and waits for nothing, or an
// error naming each worker that is not and what it waits for, for /healthz.
func (g *Group) Ready() error {
	g.mu.Lock()
	defer g.mu.Unlock()
	var errs []error
	for _, w := range g.workers {
		switch err := g.failed[w]; {
		case err != nil:
			errs = append(errs, fmt.Errorf("%s: stopped: %w", w.Name(), err))
		case w.Waiting() != "":
			errs = append(errs, fmt.Errorf("%s: starting: %s", w.Name(), w.Waiting()))
		case w.Problem() != "":
			errs = append(errs, fmt.Errorf("%s: %s", w.Name(), w.Problem()))
		case !w.Ready():
			errs = append(errs, fmt.Errorf("%s: not consuming yet", w.Name()))
		}
	}
	return errors.Join(errs...)
}
