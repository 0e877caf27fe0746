package streaming

import (
	"slices"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/streampipe/streampipe/rows"
)

// Two batches are written at once; the first write of a row of the first batch
// fails and is retried after the second batch is written whole. The batches still
// finish in order: no commit position is handed over before the retried row is
// written, and the positions handed over are the first batch's last record, then the
// second's, never beyond a record not written.
func TestFinishInOrderWhenAFirstWriteIsRetried(t *testing.T) {
	w := newKVWorker(t, Config{})
	ctx := t.Context()
	commits := make(chan []kafka.Message, 10) // never full: the finishing never waits on it
	tbl := newMemTable()
	tbl.failOnce[kvID(0, 1)] = true
	var commitsAtRetries []int
	tbl.onRetry = func() { commitsAtRetries = append(commitsAtRetries, len(commits)) }
	at := time.Now().Truncate(time.Millisecond)
	batch := func(from, to int64) []item {
		var b []item
		for o := from; o <= to; o++ {
			b = append(b, item{msg: kafka.Message{Topic: "t", Offset: o, Time: at}, size: 10,
				row: rows.Row{Values: []any{kvID(0, o), plain(0, o)}, WriteTime: at.Add(time.Duration(o) * time.Millisecond)}})
		}
		return b
	}
	f := &finishing{queue: newDeadQueue(), offs: newOffsets(), held: newBudget(1 << 20), commits: commits, free: make(chan []item, 2)}
	require.NoError(t, f.held.acquire(ctx, 60))

	started := make(chan *inHand, 2)
	for _, b := range [][]item{batch(0, 2), batch(3, 5)} {
		h := w.start(ctx, tbl, b)
		h.writes.awaitEnd() // the first writes of both batches end before the finishing starts
		started <- h
	}
	close(started)
	require.NoError(t, w.finishBatches(ctx, tbl, started, f, func() {}))
	close(commits)

	ids := func(offsets ...int64) (out []string) {
		for _, o := range offsets {
			out = append(out, kvID(0, o))
		}
		return out
	}
	assert.Equal(t, ids(0, 2, 3, 4, 5, 1), tbl.order, "the second batch is written before the retry")
	assert.Equal(t, ids(1), tbl.retried)
	assert.Equal(t, []int{0}, commitsAtRetries, "nothing is committed before the retried row is written")
	var committed []int64
	for positions := range commits {
		require.Len(t, positions, 1, "one partition")
		committed = append(committed, positions[0].Offset)
	}
	assert.True(t, slices.IsSorted(committed), "positions in order: %v", committed)
	require.NotEmpty(t, committed)
	assert.Subset(t, []int64{2, 5}, committed, "only the batches' last records")
	assert.EqualValues(t, 5, committed[len(committed)-1])
}
