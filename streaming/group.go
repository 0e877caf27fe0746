package streaming

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/streampipe/streampipe/internal/misconfig"
	"github.com/streampipe/streampipe/internal/opshttp"
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
// error naming each worker that is not and what it waits for, for /healthz: an
// opshttp.NotReady whose public text has a line per such worker with its dataset and
// state, and whose error has the details (addresses, errors).
func (g *Group) Ready() error {
	g.mu.Lock()
	defer g.mu.Unlock()
	var public []string
	var errs []error
	for _, w := range g.workers {
		if s := g.state(w); s.public != "" {
			public = append(public, w.Name()+": "+s.public)
			errs = append(errs, errors.New(w.Name()+": "+s.detail))
		}
	}
	if len(errs) == 0 {
		return nil
	}
	return opshttp.NotReady(strings.Join(public, "\n"), errors.Join(errs...))
}

// state says why w is not ready; nothing when it is. The caller holds g.mu.
func (g *Group) state(w *Worker) status {
	if err := g.failed[w]; err != nil {
		if e, ok := misconfig.As(err); ok { // its diagnosis
			return status{public: "stopped: " + e.Public(), detail: "stopped: " + err.Error()}
		}
		return status{public: "stopped (the log says why)", detail: "stopped: " + err.Error()}
	}
	if s := w.startup(); s.public != "" {
		return s
	}
	if s := w.problem(); s.public != "" {
		return s
	}
	if !w.Ready() {
		return status{public: "not consuming yet", detail: "not consuming yet"}
	}
	return status{}
}
