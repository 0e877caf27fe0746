// Package opshttp serves a program's operations endpoints: Prometheus metrics on
// /metrics and a readiness check on /healthz. Both tell whoever reaches the port
// about the program, so the programs serve them on the loopback interface unless an
// address says otherwise, and /healthz shows states in the program's own words, never
// an error's text (which may hold hosts, user names, queries).
package opshttp

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/streampipe/streampipe/internal/misconfig"
)

// NewRegistry returns a registry holding the Go runtime and process collectors, for
// the program to add its own series to.
func NewRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return reg
}

// notReady is a readiness check's failure: public is what /healthz shows, err the
// whole story, for the log.
type notReady struct {
	public string
	err    error
}

func (n *notReady) Error() string { return n.err.Error() }
func (n *notReady) Unwrap() error { return n.err }

// NotReady is the error a readiness check returns when the program is not ready.
// /healthz shows public, which must say what is not ready in the program's own words
// (states, dataset names, the variables to check) and nothing a server said; err, with
// every detail, goes to the log: when /healthz's answer changes, at the default level;
// at every check, at debug level.
func NotReady(public string, err error) error { return &notReady{public: public, err: err} }

// Public is what /healthz shows of a readiness check's error: the public text of the
// NotReady in its chain; "" if there is none.
func Public(err error) string {
	if n, ok := errors.AsType[*notReady](err); ok {
		return n.public
	}
	return ""
}

// sinceWord starts the part of a Waiting text that changes while the wait lasts.
const sinceWord = " since "

// Waiting is how /healthz says that a program waits for something, the one grammar
// of every wait, at start-up or later: "waiting for kafka (KAFKA_BROKERS) since
// 2026-12-01T10:00:00Z (12s)". what names the server by the variable that sets it
// (or, in the log's details, by its address too).
func Waiting(what string, since time.Time) string {
	return "waiting for " + what + sinceWord + since.UTC().Format(time.RFC3339) +
		" (" + time.Since(since).Round(time.Second).String() + ")"
}

// Check is one readiness check of a program: what it checks, named as Waiting names
// it ("kafka (KAFKA_BROKERS)"), and the check.
type Check struct {
	What  string
	Check func(context.Context) error
}

// Checks returns a readiness check that runs every check and fails with a NotReady
// holding a line per failed one: for a misconfiguration, What and its diagnosis
// ("kafka (KAFKA_BROKERS): the broker does not speak TLS at this address: …"), else
// Waiting(What, since its first failure in a row).
func Checks(checks ...Check) func(context.Context) error {
	var mu sync.Mutex
	since := make([]time.Time, len(checks))
	return func(ctx context.Context) error {
		var public []string
		var errs []error
		for i, c := range checks {
			err := c.Check(ctx)
			mu.Lock()
			switch {
			case err == nil:
				since[i] = time.Time{}
			case since[i].IsZero():
				since[i] = time.Now()
			}
			first := since[i]
			mu.Unlock()
			if err == nil {
				continue
			}
			p := Waiting(c.What, first)
			if m, ok := misconfig.As(err); ok {
				p = c.What + ": " + m.Public()
			}
			public, errs = append(public, p), append(errs, err)
		}
		if len(errs) == 0 {
			return nil
		}
		return NotReady(strings.Join(public, "\n"), errors.Join(errs...))
	}
}

// answers remembers what /healthz last answered, to log each change: the first 503
// of a kind (its lines without the time that passes) and the 200 that ends them.
type answers struct {
	mu       sync.Mutex
	wasReady bool      // a 200 was answered once
	last     string    // the kind of the latest 503; "" after a 200
	since    time.Time // when the 503s began
}

// kind is a 503's body without the times of its waits, which change at every check.
func kind(body string) string {
	lines := strings.Split(body, "\n")
	for i, l := range lines {
		if at := strings.Index(l, sinceWord); at >= 0 {
			lines[i] = l[:at]
		}
	}
	return strings.Join(lines, "\n")
}

// notReady logs a 503 whose kind is new: at info level before the program was ever
// ready (it is starting), at warn level after.
func (a *answers) notReady(logger *slog.Logger, body string, err error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	k := kind(body)
	if k == a.last {
		return
	}
	if a.last == "" {
		a.since = time.Now()
	}
	a.last = k
	level := slog.LevelInfo
	if a.wasReady {
		level = slog.LevelWarn
	}
	logger.Log(context.Background(), level, "/healthz answers 503", "healthz", body, "err", err)
}

// ready logs the 200 that ends a run of 503s.
func (a *answers) ready(logger *slog.Logger) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.last != "" {
		logger.Info("/healthz answers 200 again", "not_ready_for", time.Since(a.since).Round(time.Millisecond))
	}
	a.wasReady, a.last = true, ""
}

// handler serves /metrics from g and /healthz, which answers 200 when ready returns
// nil and 503 otherwise, showing only the public text of a NotReady error. Each
// change of answer is logged at the default level, the error's details with a 503.
func handler(g prometheus.Gatherer, ready func(context.Context) error, logger *slog.Logger) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(g, promhttp.HandlerOpts{}))
	var said answers
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		if err := ready(ctx); err != nil {
			logger.Debug("/healthz: not ready", "err", err)
			body := "not ready"
			if public := Public(err); public != "" {
				body += "\n" + public
			}
			said.notReady(logger, body, err)
			http.Error(w, body, http.StatusServiceUnavailable)
			return
		}
		said.ready(logger)
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		_, _ = io.WriteString(w, "ok\n")
	})
	return mux
}

// Listen serves handler(g, ready) on addr (e.g. "127.0.0.1:9101") in the background. Close
// the returned server to stop it. A port another program holds is reported as busy.
func Listen(addr string, g prometheus.Gatherer, ready func(context.Context) error, logger *slog.Logger) (io.Closer, error) {
	ln, err := net.Listen("tcp", addr)
	if errors.Is(err, syscall.EADDRINUSE) {
		_, port, _ := net.SplitHostPort(addr)
		return nil, fmt.Errorf("port %s is busy: another program listens on %s, where /metrics and /healthz were to be served", port, addr)
	}
	if err != nil {
		return nil, fmt.Errorf("serving /metrics and /healthz on %s: %w", addr, err)
	}
	srv := &http.Server{Handler: handler(g, ready, logger), ReadHeaderTimeout: 5 * time.Second}
	go func() {
		if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			logger.Error("metrics server stopped", "addr", addr, "error", err)
		}
	}()
	logger.Info("serving /metrics and /healthz", "addr", ln.Addr().String())
	return srv, nil
}
