package streaming

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A start-up step on a server that answered (creating keyspace, table, topics) is
// retried until it succeeds, however long: /healthz names what it waits for and
// streaming_stuck_seconds and streaming_retries_total of stage startup count it.
// Only a giveUp error ends it.
func TestPrepareRetriesUntilItSucceeds(t *testing.T) {
	reg := prometheus.NewRegistry()
	metrics := NewMetrics(reg)
	w, err := New(Config{Brokers: []string{"k:9092"}, Topic: "t", Hosts: []string{"c"}, HostsFrom: "CASSANDRA_HOSTS",
		Keyspace: "ks", Table: "tb", Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}, Users{}, metrics)
	require.NoError(t, err)
	calls := 0
	err = w.prepare(t.Context(), w.cfg.cassandraServer(), "creating keyspace and table", func(context.Context) error {
		if calls++; calls < 4 {
			if calls > 1 {
				s := w.startup()
				assert.Regexp(t, `^waiting for cassandra \(CASSANDRA_HOSTS\) \(creating keyspace and table\) since \S+ \(\d+s\)$`, s.public)
				assert.Contains(t, s.detail, "cluster schema versions not consistent")
				assert.Positive(t, startupFigure(t, reg, "streaming_stuck_seconds"))
			}
			return errors.New("gocql: cluster schema versions not consistent")
		}
		return nil
	})
	require.NoError(t, err)
	assert.Equal(t, 4, calls)
	assert.Empty(t, w.startup(), "nothing waited for once it succeeded")
	assert.Zero(t, startupFigure(t, reg, "streaming_stuck_seconds"))
	assert.Equal(t, 3.0, startupFigure(t, reg, "streaming_retries_total"))

	refused := errors.New("user lacks a permission")
	calls = 0
	err = w.prepare(t.Context(), w.cfg.cassandraServer(), "creating keyspace and table", func(context.Context) error {
		calls++
		return giveUp{refused}
	})
	assert.ErrorIs(t, err, refused)
	assert.Equal(t, 1, calls, "configuration that cannot work ends it at once")
}

// startupFigure returns the value of the gauge or counter name of stage startup in reg.
func startupFigure(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	families, err := reg.Gather()
	require.NoError(t, err)
	for _, f := range families {
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if f.GetName() == name && l.GetName() == "stage" && l.GetValue() == "startup" {
					return m.GetGauge().GetValue() + m.GetCounter().GetValue()
				}
			}
		}
	}
	t.Fatalf("no %s{stage=\"startup\"}", name)
	return 0
}
