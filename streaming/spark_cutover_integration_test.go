package streaming_test

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/streampipe/streampipe/datasets"
	"github.com/streampipe/streampipe/internal/cutover"
	"github.com/streampipe/streampipe/internal/testkit/sparkpeer"
	"github.com/streampipe/streampipe/internal/testkit/stacktest"
	"github.com/streampipe/streampipe/streaming"
)

// The cut-over from the real Spark job (the seed's query on pyspark, installed here if
// missing): Spark reads the first records of a 3-partition topic in batches of at most
// 500 and is stopped; more records come; the cut-over commits Spark's checkpoint as
// the group's offsets; the worker takes the rest. By id, Spark's table holds exactly
// the records Spark read and the worker's exactly the others: none in both, none lost.
func TestCutOverFromTheRealSparkJob(t *testing.T) {
	stacktest.Needs(t, stacktest.NeedsKafka, stacktest.NeedsCassandra, stacktest.NeedsScript)
	t.Parallel() // it waits on servers (or a Spark job) of its own: beside the other such tests
	peer, err := sparkpeer.Ensure(t.Context())
	require.NoError(t, err) // no skip: the test is the evidence that the cut-over works on Spark's own files
	p := newPipe(t, 3)
	sparkTable := p.table + "_spark"
	p.createUsersTable(sparkTable)
	l := newLoad()
	sparkIDs := newIDs(1500)
	p.produce(l.messages(sparkIDs, 1, 0, time.Now()))

	ckpt := filepath.Join(t.TempDir(), "checkpoint")
	batches := p.runSpark(peer, sparkTable, ckpt)
	assert.GreaterOrEqual(t, len(batches), 3, "at most 500 records a batch")
	last := batches[len(batches)-1]

	laterIDs := newIDs(3500)
	p.produce(l.messages(laterIDs, 1, 0, time.Now()))
	plan := p.cutOver(ckpt, last)
	assert.EqualValues(t, len(laterIDs), plan.Lag())

	_, stop := runInProcess(t, p.config(), streaming.NewMetrics(prometheus.NewRegistry()))
	p.waitCaughtUp(2 * time.Minute)
	require.NoError(t, stop())

	bySpark, byWorker := p.rowIDsOf(sparkTable), p.rowIDs()
	assert.Equal(t, asSet(sparkIDs), bySpark, "Spark's rows: the records it read")
	assert.Equal(t, asSet(laterIDs), byWorker, "the worker's rows: every other record")
	for id := range bySpark {
		assert.False(t, byWorker[id], "%s: processed by Spark and by streampipe", id)
	}
	assert.Len(t, l.users, len(bySpark)+len(byWorker), "every record a row, once")
	t.Logf("%d records: %d rows by Spark in %d batches (%d the last), %d by streampipe",
		len(l.users), len(bySpark), len(batches), last.ID, len(byWorker))
}

// runSpark runs the Spark job on the pipe's topic until it has read every record
// there is, then stops it (idle, so the stop interrupts no batch), and returns
// its batches.
func (p *pipe) runSpark(peer *sparkpeer.Peer, table, ckpt string) []sparkpeer.Batch {
	p.t.Helper()
	end, _, err := p.partitionOffsets(context.Background())
	require.NoError(p.t, err)
	host, port, err := net.SplitHostPort(stacktest.CassandraHosts(p.t)[0])
	require.NoError(p.t, err)
	cqlPort, err := strconv.Atoi(port)
	require.NoError(p.t, err)
	log := filepath.Join(p.t.TempDir(), "spark.log")
	p.t.Cleanup(func() { logTail(p.t, log) })

	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute) // 2.6 min with a load of 20 on 2 cores
	defer cancel()
	run, err := peer.Start(ctx, sparkpeer.Job{Brokers: p.brokers, Topic: p.topic,
		CassandraHost: host, CassandraPort: cqlPort, Keyspace: testKeyspace, Table: table,
		Checkpoint: ckpt, MaxOffsetsPerTrigger: 500, Log: log})
	require.NoError(p.t, err)
	start := time.Now()
	require.NoError(p.t, run.WaitReady(ctx))
	p.t.Logf("Spark's query started after %s (JVM pid %d)", time.Since(start).Round(time.Millisecond), run.Pid())
	var batches []sparkpeer.Batch
	for b := range run.Batches() {
		assert.LessOrEqual(p.t, b.Rows, int64(500), "batch %d", b.ID)
		batches = append(batches, b)
		if readAll(b, end) {
			break
		}
	}
	require.NoError(p.t, run.Stop(time.Minute), "query.stop() while idle")
	p.t.Logf("Spark read the topic in %s", time.Since(start).Round(time.Millisecond))
	require.NoError(p.t, run.Wait())
	require.NotEmpty(p.t, batches)
	return batches
}

// readAll says whether batch b ended at the end offsets.
func readAll(b sparkpeer.Batch, end map[int]int64) bool {
	for pt, off := range end {
		if b.EndOffsets[int32(pt)] != off {
			return false
		}
	}
	return true
}

// cutOver does what `starter cutover` does with ckpt: the plan first, which must
// show Spark's last batch and commit nothing, then the commit. The query stopped a
// moment ago: -execute is refused until its checkpoint has been quiet for the
// bound, and it holds no live member of a Spark consumer group.
func (p *pipe) cutOver(ckpt string, last sparkpeer.Batch) cutover.Plan {
	p.t.Helper()
	ck, err := cutover.ReadCheckpoint(ckpt)
	require.NoError(p.t, err)
	err = cutover.CheckSparkStopped(context.Background(), p.client, ck, p.topic, cutover.SparkGroupPrefix, time.Hour, time.Now())
	var refused *cutover.Refused
	require.ErrorAs(p.t, err, &refused, "a checkpoint written a moment ago")
	require.NoError(p.t, cutover.CheckSparkStopped(context.Background(), p.client, ck, p.topic, cutover.SparkGroupPrefix, 0, time.Now()))
	plan, err := cutover.Prepare(context.Background(), p.client, ck, p.topic, p.group, false)
	require.NoError(p.t, err)
	var out bytes.Buffer
	plan.Print(&out)
	p.t.Logf("plan:\n%s", out.String())
	assert.Contains(p.t, out.String(), fmt.Sprintf("last finished batch %d ", last.ID))
	for _, pt := range plan.Partitions {
		assert.Equal(p.t, last.EndOffsets[int32(pt.ID)], pt.Commit, "partition %d: Spark's end offset", pt.ID)
	}
	for pt, off := range p.committed() {
		assert.Negative(p.t, off, "partition %d: the plan committed nothing", pt)
	}
	require.NoError(p.t, plan.Commit(context.Background(), p.client))
	return plan
}

// createUsersTable makes table with the users dataset's columns.
func (p *pipe) createUsersTable(table string) {
	p.t.Helper()
	var defs []string
	for _, c := range datasets.Users.Rows.Columns() {
		defs = append(defs, c.Name+" "+c.Type)
	}
	require.NoError(p.t, p.session.Query(fmt.Sprintf("CREATE TABLE %s.%s (%s, PRIMARY KEY (id))",
		testKeyspace, table, strings.Join(defs, ", "))).Exec())
	p.t.Cleanup(func() {
		if !p.t.Failed() {
			_ = p.session.Query("DROP TABLE IF EXISTS " + testKeyspace + "." + table).Exec()
		}
	})
}

// logTail logs the end of a failed test's log file.
func logTail(t testing.TB, path string) {
	if !t.Failed() {
		return
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	t.Logf("last lines of %s:\n%s", path, strings.Join(lines[max(0, len(lines)-40):], "\n"))
}

func asSet(ids []string) map[string]bool {
	out := make(map[string]bool, len(ids))
	for _, id := range ids {
		out[id] = true
	}
	return out
}
