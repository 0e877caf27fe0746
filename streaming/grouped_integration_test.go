package streaming_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/segmentio/kafka-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/streampipe/streampipe/internal/testkit/stacktest"
	"github.com/streampipe/streampipe/rows"
	"github.com/streampipe/streampipe/streaming"
)

// writeRows returns the count and sum of the streaming_write_rows histogram of reg:
// how many Cassandra writes succeeded and how many rows they held.
func writeRows(t *testing.T, reg *prometheus.Registry) (writes, rows float64) {
	t.Helper()
	families, err := reg.Gather()
	require.NoError(t, err)
	for _, f := range families {
		if f.GetName() == "streaming_write_rows" {
			h := f.GetMetric()[0].GetHistogram()
			return float64(h.GetSampleCount()), h.GetSampleSum()
		}
	}
	t.Fatal("no streaming_write_rows")
	return 0, 0
}

// Rows written in grouped batches keep exactly-once-in-content: a user's version 1
// consumed twice, then version 2, then version 1 again after it, one after the other
// in one partition (produced before the worker starts), so that the versions of a
// row share a Cassandra batch. Each statement's own write time decides: one row per
// id, holding the newest version. Of the two v1 records consumed one after the
// other, in the same millisecond, only the later is written (the micro-batch's
// supersede): three writes an id.
func TestGroupedWritesNewestWins(t *testing.T) {
	stacktest.Needs(t, stacktest.NeedsKafka, stacktest.NeedsCassandra)
	p := newPipe(t, 1)
	l := newLoad()
	ids := newIDs(300)
	now := time.Now()
	v1 := l.messages(ids, 1, 0, now.Add(-2*time.Minute))
	v2 := l.messages(ids, 2, 0, now.Add(-time.Minute))
	// Each user's versions one after the other, so that they share a batch: v1
	// consumed twice, then v2, then v1 again, older, consumed after the newer one.
	var msgs []kafka.Message
	for i := range ids {
		msgs = append(msgs, v1[i], v1[i], v2[i], v1[i])
	}
	p.produce(msgs)

	cfg := p.config()
	cfg.BatchRows, cfg.GroupRows = 2000, 50
	reg := prometheus.NewRegistry()
	_, stop := runInProcess(t, cfg, streaming.NewMetrics(reg))
	p.waitCaughtUp(time.Minute)
	require.NoError(t, stop())

	p.checkRows(l) // the v2 fields, one row per id
	var n int
	require.NoError(t, p.session.Query("SELECT COUNT(*) FROM "+testKeyspace+"."+p.table).Scan(&n))
	assert.Equal(t, len(ids), n, "rows in the table")
	writes, rows := writeRows(t, reg)
	assert.Equal(t, float64(3*len(ids)), rows, "every record written once, but the first v1, superseded")
	assert.Less(t, writes, rows/3, "rows went in batches (%v writes for %v rows)", writes, rows)
}

// One row Cassandra refuses (text that is not UTF-8), in the middle of a group of
// good rows, fails alone: its group is written again row by row, the good rows are
// written and the bad one is dead-lettered (rejected).
func TestGroupedWritesBadRowAlone(t *testing.T) {
	stacktest.Needs(t, stacktest.NeedsKafka, stacktest.NeedsCassandra)
	p := newPipe(t, 1)
	cfg := p.config()
	cfg.GroupRows = 50
	reg := prometheus.NewRegistry()
	w, err := streaming.New(cfg, keyed{}, streaming.NewMetrics(reg))
	require.NoError(t, err)
	stop := runUntilStopped(t, w.Run)

	now := time.Now()
	want := map[string]string{}
	var msgs []kafka.Message
	for i := range 40 {
		k := fmt.Sprintf("k-%02d", i)
		msgs = append(msgs, kafka.Message{Key: []byte(k), Value: []byte("v-" + k), Time: now})
		want[k] = "v-" + k
		if i == 20 {
			msgs = append(msgs, kafka.Message{Key: []byte("bad"), Value: []byte{0xff, 0xfe, 0xfd}, Time: now})
		}
	}
	p.produce(msgs)
	p.waitCaughtUp(time.Minute)
	require.NoError(t, stop(), "the worker's Run")

	assert.Equal(t, want, keyedRows(t, p), "the good rows of the group")
	dead := p.readAll(p.dlq)
	require.Len(t, dead, 1, "the dead letters")
	for _, m := range dead {
		assert.Equal(t, "bad", string(m.Key))
		assert.Contains(t, m.Headers, kafka.Header{Key: rows.HeaderReason, Value: []byte(rows.ReasonRejected)})
	}
	writes, rows := writeRows(t, reg)
	assert.Equal(t, float64(len(want)), rows, "the good rows, each written once")
	assert.Equal(t, writes, rows, "after the failed batch, its rows were written one by one")
}
