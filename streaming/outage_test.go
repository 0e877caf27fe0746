package streaming

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"syscall"
	"testing"
	"time"

	gocql "github.com/apache/cassandra-gocql-driver/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/segmentio/kafka-go"
	"github.com/stretchr/testify/assert"

	"github.com/streampipe/streampipe/datasets"
	"github.com/streampipe/streampipe/internal/kafkasec"
)

// An outage is logged twice, whatever its length: a warning when it starts and an
// info line when it ends. What /healthz shows of it names neither the address nor
// the error; the details have both.
func TestOutageLogsOnceEachWay(t *testing.T) {
	var buf bytes.Buffer
	o := newOutage(server{"kafka at k:9092 (KAFKA_BROKERS)", "kafka (KAFKA_BROKERS)"}, slog.New(slog.NewTextHandler(&buf, nil)))
	assert.Empty(t, o.problem())
	for i := range 50 {
		o.fail(fmt.Errorf("dial %d: %w", i, syscall.ECONNREFUSED))
	}
	assert.Regexp(t, `^waiting for kafka \(KAFKA_BROKERS\) since \S+ \(\d+s\)$`, o.problem().public)
	assert.Contains(t, o.problem().detail, "waiting for kafka at k:9092 (KAFKA_BROKERS) since ")
	assert.Contains(t, o.problem().detail, "dial 49")
	o.okIfQuiet(time.Hour) // a success too soon after a failure proves nothing
	assert.NotEmpty(t, o.problem())
	o.ok()
	o.ok()
	assert.Empty(t, o.problem())
	logs := buf.String()
	assert.Equal(t, 1, strings.Count(logs, "level=WARN"), logs)
	assert.Equal(t, 1, strings.Count(logs, "level=INFO"), logs)
	assert.Contains(t, logs, "retries=50")
}

// What ends the worker, and what it waits out.
func TestFatal(t *testing.T) {
	for _, tc := range []struct {
		err   error
		fatal bool
	}{
		{fmt.Errorf("fetching: %w", syscall.ECONNREFUSED), false},
		{io.ErrUnexpectedEOF, false},
		{kafka.BrokerNotAvailable, false},
		{kafka.GroupCoordinatorNotAvailable, false},
		{kafka.NotCoordinatorForGroup, false},
		{kafka.NotLeaderForPartition, false},
		{kafka.LeaderNotAvailable, false},
		{kafka.RequestTimedOut, false},
		{kafka.RebalanceInProgress, false},
		{kafka.UnknownTopicOrPartition, false}, // a dead-letter topic deleted: it may come back
		{kafka.WriteErrors{kafka.NotLeaderForPartition}, false},
		{errors.New("gocql: no hosts available in the pool"), false},
		{fmt.Errorf("fetching: %w", kafka.SASLAuthenticationFailed), true},
		{kafka.TopicAuthorizationFailed, true},
		{kafka.GroupAuthorizationFailed, true},
		{kafka.ClusterAuthorizationFailed, true},
		{&gocql.RequestErrUnavailable{}, false},
		// What kafkasec explains: a certificate not trusted, TLS on one side only.
		{(*kafkasec.Security)(nil).Explain(context.Background(), nil, x509.UnknownAuthorityError{}), true},
		{(*kafkasec.Security)(nil).Explain(context.Background(), nil, tls.RecordHeaderError{Msg: "not TLS"}), true},
	} {
		t.Run(tc.err.Error(), func(t *testing.T) {
			assert.Equal(t, tc.fatal, fatal(tc.err))
		})
	}
}

// A dead-letter topic the worker may not write is waited for, not fatal: granting the
// permission lets the worker go on.
func TestDLQAuthorizationIsWaitedFor(t *testing.T) {
	w, err := New(Config{Brokers: []string{"k:9092"}, Topic: "t", Hosts: []string{"c"}, Keyspace: "ks", Table: "tb",
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}, datasets.Users.Rows, NewMetrics(prometheus.NewRegistry()))
	assert.NoError(t, err)
	calls := 0
	err = w.retry(t.Context(), "dlq", w.dlqTopic, func(context.Context) error {
		if calls++; calls < 3 {
			return kafka.TopicAuthorizationFailed
		}
		return nil
	})
	assert.NoError(t, err)
	assert.Equal(t, 3, calls)
	assert.Empty(t, w.problem())
}
