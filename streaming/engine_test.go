package streaming

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/streampipe/streampipe/rows"
)

// The engine (fetch, micro-batches, in-order finishing, commits, dead letters) run
// on in-memory fakes of Kafka and Cassandra (fakes_test.go): each commit is checked
// against what is written, so that a commit past a record not done fails the test.

const (
	waitFor = 10 * time.Second
	tick    = 2 * time.Millisecond
)

// A worker killed after writing rows and before committing them loses nothing and
// doubles nothing it committed: the next worker resumes at the committed offsets and
// writes again only the records written after the last commit (upserts, so the
// table is the same).
func TestEngineKilledBetweenWriteAndCommit(t *testing.T) {
	topic := newMemTopic(3, 200, plain)
	tbl, dead := newMemTable(), &memDLQ{}
	commitsOnlyWhatIsDone(t, topic, tbl, dead)

	// The first worker is killed (no drain) once 150 rows are written; from the
	// 100th row on, its commits are refused, so rows are written that no commit covers.
	first := topic.source()
	w := newKVWorker(t, Config{BatchRows: 20, BatchWait: time.Millisecond, DrainTimeout: time.Nanosecond})
	killed := make(chan struct{})
	tbl.onWritten = func(n int) { // from the second worker's writes on, n is over 150
		switch n {
		case 100:
			first.refusing.Store(true)
		case 150:
			close(killed)
		}
	}
	stop := runKV(t, w, first, tbl, dead)
	<-killed
	_ = stop() // a kill mid-batch may end the run with an error: it is a kill
	resumed := topic.positions()
	written := tbl.written()
	var uncommitted int // written by the first worker past its last commit
	for id := range written {
		var p int
		var o int64
		_, err := fmt.Sscanf(id, "%d-%d", &p, &o)
		require.NoError(t, err)
		if o >= resumed[p] {
			uncommitted++
		}
	}
	require.Positive(t, uncommitted, "the kill came between writes and their commit")

	// The second worker resumes at the committed offsets and finishes the topic.
	w = newKVWorker(t, Config{BatchRows: 20, BatchWait: time.Millisecond})
	stop = runKV(t, w, topic.source(), tbl, dead)
	require.Eventually(t, topic.done, waitFor, tick, "every record committed")
	require.NoError(t, stop())

	twice := 0
	for p := range 3 {
		for o := range int64(200) {
			id := kvID(p, o)
			n := tbl.timesWritten(id)
			assert.Equal(t, plain(p, o), tbl.row(id), "row %s", id)
			switch {
			case o < resumed[p]:
				assert.Equal(t, 1, n, "row %s, committed by the killed worker, is written once", id)
			case written[id]:
				assert.Equal(t, 2, n, "row %s, written and not committed by the killed worker, is written again", id)
				twice++
			default:
				assert.Equal(t, 1, n, "row %s", id)
			}
		}
	}
	assert.Equal(t, uncommitted, twice)
	t.Logf("killed after %d rows written, %d of them not committed; resumed at %v", len(written), uncommitted, resumed)
}

// A batch whose write hangs (a row held) holds every commit of its partition, while
// the next batch is written meanwhile; once the held row is written, everything is
// committed, each row written once.
func TestEngineOverlappingBatchesCommitInOrder(t *testing.T) {
	topic := newMemTopic(1, 200, plain)
	tbl, dead := newMemTable(), &memDLQ{}
	commitsOnlyWhatIsDone(t, topic, tbl, dead)
	tbl.held = func(id string) bool { return id == kvID(0, 0) }

	w := newKVWorker(t, Config{BatchRows: 20, BatchWait: time.Millisecond})
	stop := runKV(t, w, topic.source(), tbl, dead)
	// The first batch waits for its first row; the second is written meanwhile.
	require.Eventually(t, func() bool { return len(tbl.written()) > 0 }, waitFor, tick, "a later batch written while the first hangs")
	time.Sleep(50 * time.Millisecond) // room for a wrong commit to happen
	assert.Equal(t, []int64{0}, topic.positions(), "nothing committed before the first batch is written")
	assert.Zero(t, tbl.timesWritten(kvID(0, 0)))

	close(tbl.hold)
	require.Eventually(t, topic.done, waitFor, tick, "every record committed once the row is written")
	require.NoError(t, stop())
	for o := range int64(200) {
		assert.Equal(t, 1, tbl.timesWritten(kvID(0, o)), "row of offset %d", o)
	}
}

// While Cassandra hangs, the worker holds at most its byte budget of records and
// commits nothing; once it answers, every row is written once and committed.
func TestEngineStuckSinkHoldsItsBudgetAndCommitsNothing(t *testing.T) {
	const records, budget = 500, 32 << 10
	value := func(p int, o int64) string { return plain(p, o) + string(make([]byte, 1000)) }
	topic := newMemTopic(1, records, value)
	tbl, dead := newMemTable(), &memDLQ{}
	commitsOnlyWhatIsDone(t, topic, tbl, dead)
	tbl.held = func(string) bool { return true }

	src := topic.source()
	w := newKVWorker(t, Config{BatchRows: 20, BatchWait: time.Millisecond, MaxBufferBytes: budget, MaxRecordBytes: 4 << 10})
	stop := runKV(t, w, src, tbl, dead)
	// The fetching stops once the budget is full.
	var fetched int64
	require.Eventually(t, func() bool {
		n := src.fetched.Load()
		settled := n > 0 && n == fetched
		fetched = n
		return settled
	}, waitFor, 50*time.Millisecond, "the fetching stops")
	// A record holds its key and value twice (message and row); one more waits for room.
	held := 2 * (len(kvID(0, 0)) + len(value(0, 0)))
	assert.LessOrEqual(t, fetched, int64(budget/held+1), "records fetched while Cassandra hangs")
	assert.Equal(t, []int64{0}, topic.positions(), "nothing committed")
	assert.Empty(t, tbl.written())

	close(tbl.hold)
	require.Eventually(t, topic.done, waitFor, tick, "every record committed once Cassandra answers")
	require.NoError(t, stop())
	for o := range int64(records) {
		assert.Equal(t, 1, tbl.timesWritten(kvID(0, o)), "row of offset %d", o)
	}
	t.Logf("%d records of %d bytes fetched while Cassandra hung, budget %d bytes", fetched, held, budget)
}

// An invalid record whose dead letter cannot be written holds the commit of its
// partition at the record, while the rows after it are written and the other
// partition is committed to its end; once the dead-letter topic takes it, the
// partition is committed to its end too.
func TestEngineDeadLetterHoldsOnlyItsPartition(t *testing.T) {
	value := func(p int, o int64) string {
		if p == 0 && o == 10 {
			return "!bad"
		}
		return plain(p, o)
	}
	topic := newMemTopic(2, 100, value)
	tbl, dead := newMemTable(), &memDLQ{}
	commitsOnlyWhatIsDone(t, topic, tbl, dead)
	dead.refusing.Store(true)

	w := newKVWorker(t, Config{BatchRows: 20, BatchWait: time.Millisecond})
	stop := runKV(t, w, topic.source(), tbl, dead)
	require.Eventually(t, func() bool { return topic.positions()[1] == 100 }, waitFor, tick, "partition 1 committed to its end")
	require.Eventually(t, func() bool { return tbl.timesWritten(kvID(0, 99)) == 1 }, waitFor, tick, "partition 0's rows written")
	require.Eventually(t, func() bool { return topic.positions()[0] == 10 }, waitFor, tick,
		"partition 0 committed up to its record whose dead letter waits")
	time.Sleep(50 * time.Millisecond) // room for a wrong commit to happen
	assert.Equal(t, int64(10), topic.positions()[0], "partition 0 resumes at its record whose dead letter waits")

	dead.refusing.Store(false)
	require.Eventually(t, topic.done, waitFor, tick, "every record committed once the dead letter is written")
	require.NoError(t, stop())
	require.Len(t, dead.letters, 1)
	l := dead.letters[0]
	assert.Equal(t, rows.Coordinates("t", 0, 10), coordinates(l))
	assert.Equal(t, "!bad", string(l.Value))
	assert.Equal(t, rows.ReasonNotJSON, rows.ParseLetter(l).Reason)
	assert.Len(t, tbl.written(), 199)
}
