package opshttp

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func ready(context.Context) error { return nil }

func TestListenCallsABusyPortBusy(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	addr := ln.Addr().String()
	_, port, _ := net.SplitHostPort(addr)

	_, err = Listen(addr, NewRegistry(), ready, slog.New(slog.DiscardHandler))
	require.Error(t, err)
	assert.ErrorContains(t, err, "port "+port+" is busy: another program listens on "+addr)
}

func TestListenReportsOtherErrorsPlainly(t *testing.T) {
	_, err := Listen("127.0.0.1:99999", NewRegistry(), ready, slog.New(slog.DiscardHandler))
	require.Error(t, err)
	assert.ErrorContains(t, err, "serving /metrics and /healthz on 127.0.0.1:99999: ")
	assert.NotContains(t, err.Error(), "busy")
}

// /healthz shows the public text of a NotReady error and nothing of the error
// itself, which may name hosts, users and queries; a plain error shows no text.
func TestHealthzShowsOnlyThePublicText(t *testing.T) {
	secretive := errors.New("cassandra at db-7.internal:9042: user ops: SELECT * FROM ks.t: timeout")
	for _, tt := range []struct {
		name string
		err  error
		code int
		body string
	}{
		{"ready", nil, http.StatusOK, "ok\n"},
		{"not ready", NotReady("users: waiting for cassandra (CASSANDRA_HOSTS)", secretive),
			http.StatusServiceUnavailable, "not ready\nusers: waiting for cassandra (CASSANDRA_HOSTS)\n"},
		{"wrapped", fmt.Errorf("checking: %w", NotReady("kafka (KAFKA_BROKERS): unreachable", secretive)),
			http.StatusServiceUnavailable, "not ready\nkafka (KAFKA_BROKERS): unreachable\n"},
		{"plain error", secretive, http.StatusServiceUnavailable, "not ready\n"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var logs bytes.Buffer
			logger := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
			h := handler(NewRegistry(), func(context.Context) error { return tt.err }, logger)
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/healthz", nil))
			assert.Equal(t, tt.code, rec.Code)
			assert.Equal(t, tt.body, rec.Body.String())
			assert.Equal(t, "nosniff", rec.Header().Get("X-Content-Type-Options"))
			if tt.err != nil {
				assert.Contains(t, logs.String(), "db-7.internal:9042", "the details go to the debug log")
			}
		})
	}
}
