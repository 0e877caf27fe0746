package streaming_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	gocql "github.com/apache/cassandra-gocql-driver/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/segmentio/kafka-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/streampipe/streampipe/datasets"
	"github.com/streampipe/streampipe/internal/cutover"
	"github.com/streampipe/streampipe/internal/testkit/cutovertest"
	"github.com/streampipe/streampipe/internal/testkit/stacktest"
	"github.com/streampipe/streampipe/streaming"
)

// A Spark query processed the first records of each partition and stopped in the
// middle of a batch; after the cut-over the worker writes exactly the rest: the
// rows of what Spark processed keep Spark's write time (streampipe did not write
// them again), every other record is a row with its Kafka timestamp as write time.
func TestCutOverFromASparkCheckpoint(t *testing.T) {
	stacktest.Needs(t, stacktest.NeedsKafka, stacktest.NeedsCassandra)
	p := newPipe(t, 3)
	require.NoError(t, p.session.Query(fmt.Sprintf(seedCreateTable, testKeyspace, p.table)).Exec())
	l := newLoad()
	kafkaTime := time.Now().Add(-time.Hour).Truncate(time.Millisecond)
	p.produce(l.messages(newIDs(600), 1, 0, kafkaTime))
	end, _, err := p.partitionOffsets(context.Background())
	require.NoError(t, err)

	// Spark's progress: two finished batches, then one planned that did not finish.
	half, third := map[int]int64{}, map[int]int64{}
	for pt, e := range end {
		half[pt], third[pt] = e/2, e/3
	}
	dir := cutovertest.Checkpoint(t, []cutovertest.Offsets{{p.topic: third}, {p.topic: half}}, cutovertest.Offsets{p.topic: end})
	// Spark's rows of the records before half, with a write time of their own (earlier
	// than the records': a write by streampipe would show).
	sparkTime := kafkaTime.Add(-time.Hour)
	spark := map[string]bool{}
	for _, m := range p.readAll(p.topic) {
		if m.Offset < half[m.Partition] {
			spark[string(m.Key)] = true
			require.NoError(t, p.session.Query("INSERT INTO "+testKeyspace+"."+p.table+" (id, first_name) VALUES (?, 'spark') USING TIMESTAMP ?",
				string(m.Key), sparkTime.UnixMicro()).Exec())
		}
	}

	ck, err := cutover.ReadCheckpoint(dir)
	require.NoError(t, err)
	plan, err := cutover.Prepare(context.Background(), p.client, ck, p.topic, p.group, false)
	require.NoError(t, err)
	assert.EqualValues(t, len(l.users)-len(spark), plan.Lag())
	require.NoError(t, plan.Commit(context.Background(), p.client))

	_, stop := runInProcess(t, p.config(), streaming.NewMetrics(prometheus.NewRegistry()))
	p.waitCaughtUp(2 * time.Minute)
	require.NoError(t, stop())

	written := p.writeTimes()
	var bySpark, byStreampipe int
	for id := range l.users {
		switch {
		case spark[id]:
			bySpark++
			assert.Equal(t, sparkTime.UnixMicro(), written[id], "%s: processed by Spark, not written again", id)
		default:
			byStreampipe++
			// The record's millisecond, and its offset's tie-break within it.
			assert.Equal(t, kafkaTime.UnixMilli(), written[id]/1000, "%s: written by streampipe", id)
		}
	}
	assert.Len(t, written, len(l.users), "one row per record")
	t.Logf("%d records: %d rows by Spark (batch %d), %d by streampipe", len(l.users), bySpark, ck.Batch, byStreampipe)
	assert.Positive(t, bySpark)
	assert.Positive(t, byStreampipe)
}

// writeTimes are the pipe's rows' write times (of first_name), by id.
func (p *pipe) writeTimes() map[string]int64 {
	p.t.Helper()
	iter := p.session.Query("SELECT id, WRITETIME(first_name) FROM " + testKeyspace + "." + p.table).Iter()
	out := map[string]int64{}
	var id gocql.UUID
	var at int64
	for iter.Scan(&id, &at) {
		out[id.String()] = at
	}
	require.NoError(p.t, iter.Close())
	return out
}

// The one-off repair of the rows Spark left quoted in user_details_5: Spark wrote
// them after the records' Kafka timestamps, so streampipe's writes of the same
// records lose to them; after TRUNCATE (which leaves no tombstone) a re-read from
// the earliest offsets writes every row anew.
func TestRepairOfSparksQuotedRows(t *testing.T) {
	stacktest.Needs(t, stacktest.NeedsKafka, stacktest.NeedsCassandra)
	p := newPipe(t, 2)
	require.NoError(t, p.session.Query(fmt.Sprintf(seedUserDetails5, testKeyspace, p.table)).Exec())
	kafkaTime := time.Now().Add(-time.Hour).Truncate(time.Millisecond)
	ids := newIDs(40)
	var msgs []kafka.Message
	for i, id := range ids {
		value := fmt.Sprintf("User %d$%d Main St\nTown, ST 12345$2001", i, i)
		msgs = append(msgs, kafka.Message{Key: []byte(id), Value: fmt.Appendf(nil, "%q", value), Time: kafkaTime})
		// Spark's row: the raw JSON text split at $, quotes and escapes kept, written
		// when Spark processed the record.
		parts := strings.Split(fmt.Sprintf("%q", value), "$")
		require.NoError(t, p.session.Query("INSERT INTO "+testKeyspace+"."+p.table+" (id, name, address, date) VALUES (?, ?, ?, ?)",
			id, parts[0], parts[1], parts[2]).Exec())
	}
	p.produce(msgs)
	run := func() {
		_, stop := streamRegistered(t, p)
		p.waitCaughtUp(2 * time.Minute)
		require.NoError(t, stop())
	}

	run() // streampipe from the earliest offsets, without the repair
	assert.Equal(t, len(ids), p.quotedRows(), "Spark's later writes win over the records' timestamps")

	require.NoError(t, p.session.Query("TRUNCATE "+testKeyspace+"."+p.table).Exec())
	res, err := p.client.DeleteGroups(context.Background(), &kafka.DeleteGroupsRequest{GroupIDs: []string{p.group}})
	require.NoError(t, err)
	require.NoError(t, res.Errors[p.group])
	run()
	assert.Zero(t, p.quotedRows(), "every row rewritten from its record")
	assert.Len(t, p.rowIDs(), len(ids))
	var name, address, date string
	require.NoError(t, p.session.Query("SELECT name, address, date FROM "+testKeyspace+"."+p.table+" WHERE id = ?", ids[7]).
		Scan(&name, &address, &date))
	assert.Equal(t, []string{"User 7", "7 Main St\nTown, ST 12345", "2001"}, []string{name, address, date})
}

// streamRegistered runs a registered_users worker on the pipe until stop.
func streamRegistered(t *testing.T, p *pipe) (*streaming.Worker, func() error) {
	t.Helper()
	w, err := streaming.New(p.config(), datasets.RegisteredUsers.Rows, streaming.NewMetrics(prometheus.NewRegistry()))
	require.NoError(t, err)
	return w, runUntilStopped(t, w.Run)
}

// quotedRows counts the rows whose name still starts with Spark's quote.
func (p *pipe) quotedRows() int {
	p.t.Helper()
	iter := p.session.Query("SELECT name FROM " + testKeyspace + "." + p.table).Iter()
	n := 0
	var name string
	for iter.Scan(&name) {
		if strings.HasPrefix(name, `"`) {
			n++
		}
	}
	require.NoError(p.t, iter.Close())
	return n
}
