package streaming_test

import (
	"fmt"
	"testing"
	"time"

	gocql "github.com/apache/cassandra-gocql-driver/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/segmentio/kafka-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/streampipe/streampipe/datasets"
	"github.com/streampipe/streampipe/internal/testkit/stacktest"
	"github.com/streampipe/streampipe/streaming"
)

// TestTombstonesDeleteRows: on the stack, a registered user's tombstone (its key, a
// null value) deletes its row when it is newer than the row, and not when it is
// older; a row written again after its tombstone is back; a tombstone without a key
// is dead-lettered. The deletions are counted in /metrics.
func TestTombstonesDeleteRows(t *testing.T) {
	stacktest.Needs(t, stacktest.NeedsKafka, stacktest.NeedsCassandra)
	p := newPipe(t, 2)
	t0 := time.Now().Add(-time.Hour).Truncate(time.Millisecond)
	deleted, older, recreated := newUUID(), newUUID(), newUUID()
	user := func(id string, at time.Time) kafka.Message {
		return kafka.Message{Key: []byte(id), Value: fmt.Appendf(nil, `"Ada Lovelace$%s$1815"`, id), Time: at}
	}
	tombstone := func(id string, at time.Time) kafka.Message { return kafka.Message{Key: []byte(id), Time: at} }
	p.produce([]kafka.Message{
		user(deleted, t0), user(older, t0), user(recreated, t0),
		tombstone(deleted, t0.Add(time.Second)),
		tombstone(older, t0.Add(-time.Second)), // older than the row: it stays
		tombstone(recreated, t0.Add(time.Second)),
		user(recreated, t0.Add(2*time.Second)),
		{Time: t0}, // no key, no value
	})
	reg := prometheus.NewRegistry()
	w, err := streaming.New(p.config(), datasets.RegisteredUsers.Rows, streaming.NewMetrics(reg))
	require.NoError(t, err)
	stop := runUntilStopped(t, w.Run)
	p.waitCaughtUp(time.Minute)
	require.NoError(t, stop())

	present := func(id string) bool {
		var n int
		require.NoError(t, p.session.Query("SELECT count(*) FROM "+testKeyspace+"."+p.table+" WHERE id = ?", id).Scan(&n))
		return n == 1
	}
	assert.False(t, present(deleted), "deleted by a newer tombstone")
	assert.True(t, present(older), "an older tombstone deletes nothing")
	assert.True(t, present(recreated), "written again after its tombstone")
	var ids []gocql.UUID
	iter := p.session.Query("SELECT id FROM " + testKeyspace + "." + p.table).Iter()
	var id gocql.UUID
	for iter.Scan(&id) {
		ids = append(ids, id)
	}
	require.NoError(t, iter.Close())
	assert.Len(t, ids, 2)

	dead := p.readAll(p.dlq)
	assert.Len(t, dead, 1, "the tombstone without a key")
	assert.Equal(t, 3.0, counter(t, reg, "streaming_rows_deleted_total"), "tombstones written as deletions")
}
