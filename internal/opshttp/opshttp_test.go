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
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/streampipe/streampipe/internal/misconfig"
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

// A wait has one grammar, at start-up as later: what, by its variable, since when
// (UTC, to the second) and for how long.
func TestWaitingGrammar(t *testing.T) {
	since := time.Now().Add(-12 * time.Second)
	assert.Regexp(t, `^waiting for kafka \(KAFKA_BROKERS\) since \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ \(1[23]s\)$`,
		Waiting("kafka (KAFKA_BROKERS)", since))
}

// Checks says since when each failed check fails, in Waiting's words, unless its
// error has words of its own; a check that passes again starts afresh.
func TestChecksSayWhatWaitsSinceWhen(t *testing.T) {
	var kafkaErr, temporalErr error
	ready := Checks(
		Check{"temporal (TEMPORAL_ADDRESS)", func(context.Context) error { return temporalErr }},
		Check{"kafka (KAFKA_BROKERS)", func(context.Context) error { return kafkaErr }},
	)
	require.NoError(t, ready(t.Context()))

	kafkaErr = errors.New("dial tcp 10.1.2.3:9092: connection refused")
	err := ready(t.Context())
	assert.Regexp(t, `^waiting for kafka \(KAFKA_BROKERS\) since \S+Z \(0s\)$`, Public(err))
	assert.ErrorContains(t, err, "10.1.2.3:9092", "the details are in the error, for the log")

	temporalErr = fmt.Errorf("temporal at 10.1.2.3:7233: %w", misconfig.New("the server does not speak TLS: set TEMPORAL_TLS=false",
		errors.New("tls: first record does not look like a TLS handshake")))
	assert.Regexp(t, `^temporal \(TEMPORAL_ADDRESS\): the server does not speak TLS: set TEMPORAL_TLS=false\n`+
		`waiting for kafka \(KAFKA_BROKERS\) since \S+Z \(0s\)$`, Public(ready(t.Context())))

	temporalErr, kafkaErr = nil, nil
	require.NoError(t, ready(t.Context()))
}

// Every change of /healthz's answer is logged at the default level: the first 503
// of a kind with its details (info while the program starts, warn once it was
// ready), not the next ones whose waits only grew older, and the 200 that ends them.
func TestHealthzLogsEachChangeOfAnswer(t *testing.T) {
	var logs bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&logs, nil))
	since := time.Now()
	var err error
	h := handler(NewRegistry(), func(context.Context) error { return err }, logger)
	get := func() {
		t.Helper()
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/healthz", nil))
	}
	kafka := NotReady(Waiting("kafka (KAFKA_BROKERS)", since), errors.New("kafka at k:9092: refused"))
	err = kafka
	get()
	get()
	err = nil
	get()
	get()
	err = kafka
	get()
	err = NotReady(Waiting("kafka (KAFKA_BROKERS)", since)+"\n"+Waiting("temporal (TEMPORAL_ADDRESS)", since), errors.New("both"))
	get()

	lines := strings.Split(strings.TrimSpace(logs.String()), "\n")
	require.Len(t, lines, 4, logs.String())
	assert.Contains(t, lines[0], `level=INFO msg="/healthz answers 503" healthz="not ready\nwaiting for kafka (KAFKA_BROKERS) since `)
	assert.Contains(t, lines[0], `err="kafka at k:9092: refused"`)
	assert.Contains(t, lines[1], `level=INFO msg="/healthz answers 200 again" not_ready_for=`)
	assert.Contains(t, lines[2], `level=WARN msg="/healthz answers 503" healthz="not ready\nwaiting for kafka (KAFKA_BROKERS) since `)
	assert.Contains(t, lines[3], `level=WARN msg="/healthz answers 503"`)
	assert.Contains(t, lines[3], `waiting for temporal (TEMPORAL_ADDRESS) since `)
}
