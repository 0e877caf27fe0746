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
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
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
// every detail, goes to the log at debug level.
func NotReady(public string, err error) error { return &notReady{public: public, err: err} }

// Public is what /healthz shows of a readiness check's error: the public text of the
// NotReady in its chain; "" if there is none.
func Public(err error) string {
	if n, ok := errors.AsType[*notReady](err); ok {
		return n.public
	}
	return ""
}

// handler serves /metrics from g and /healthz, which answers 200 when ready returns
// nil and 503 otherwise, showing only the public text of a NotReady error.
func handler(g prometheus.Gatherer, ready func(context.Context) error, logger *slog.Logger) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(g, promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		if err := ready(ctx); err != nil {
			logger.Debug("/healthz: not ready", "err", err)
			body := "not ready"
			if public := Public(err); public != "" {
				body += "\n" + public
			}
			http.Error(w, body, http.StatusServiceUnavailable)
			return
		}
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
