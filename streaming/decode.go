package streaming

import (
	"fmt"
	"runtime/debug"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/streampipe/streampipe/rows"
	"github.com/streampipe/streampipe/streaming/fetchcut"
)

// item is a fetched message and its decoding: a row, or why it cannot be one.
type item struct {
	msg  kafka.Message
	row  rows.Row
	bad  *rows.InvalidError
	size int // the bytes it holds, as counted against MaxBufferBytes
	// skipped: the message stands for a transaction marker or records of an aborted
	// transaction (package fetchcut): no row and no dead letter, only an offset to commit.
	skipped bool
}

// decode turns a message into a row, or says why it cannot become one. A decoder
// that panics dead-letters the message (reason panic, the stack in a header) instead
// of killing the process, which would then crash-loop on the same record.
func (w *Worker) decode(m kafka.Message) (it item) {
	defer func() { it.size = it.bytes() }()
	if bad, skipped := w.bounds.CutRecord(&m); skipped || bad != nil {
		return item{msg: m, bad: bad, skipped: skipped}
	}
	if len(m.Value) > w.cfg.MaxRecordBytes {
		// A response kafka-go got unchanged (a fetch version fetchcut does not
		// rebuild): only the value's beginning is kept, in a copy, so that the whole
		// value is not held while it waits for its batch.
		bad := fetchcut.TooLarge(len(m.Value), w.cfg.MaxRecordBytes)
		m.Value = append([]byte(nil), truncate(m.Value, fetchcut.TruncatedValueBytes)...)
		return item{msg: m, bad: bad}
	}
	valueTimed := writeTimeFromValue(w.dataset)
	if !valueTimed {
		if bad := checkTime(m.Time, time.Now()); bad != nil {
			return item{msg: m, bad: bad}
		}
	}
	defer func() {
		if r := recover(); r != nil {
			bad := rows.Invalid(rows.ReasonPanic, "the %s decoder panicked: %s", w.dataset.Name(),
				truncate(fmt.Appendf(nil, "%v", r), maxStackBytes/4))
			bad.Stack = truncate(debug.Stack(), maxStackBytes)
			it = item{msg: m, bad: bad}
		}
	}()
	if row, ok, err := w.tombstone(m, valueTimed); ok {
		if bad := rows.AsInvalid(err); bad != nil {
			return item{msg: m, bad: bad}
		}
		return item{msg: m, row: row}
	}
	row, err := decodeMessage(w.dataset, m)
	if err != nil {
		bad := rows.AsInvalid(err)
		if bad == nil {
			bad = rows.Invalid("invalid", "%v", err)
		}
		return item{msg: m, bad: bad}
	}
	if !valueTimed {
		row.WriteTime = recordWriteTime(m)
	} else if bad := checkTime(row.WriteTime, time.Now()); bad != nil {
		return item{msg: m, bad: bad}
	}
	return item{msg: m, row: row}
}

// bytes is what an item holds: its message's key, value and headers (each with its
// fetchcut.HeaderOverhead), twice for a record decoded into a row (the row holds its own copy of the values).
func (it item) bytes() int {
	n := len(it.msg.Key) + len(it.msg.Value)
	for _, h := range it.msg.Headers {
		n += len(h.Key) + len(h.Value) + fetchcut.HeaderOverhead
	}
	if it.bad == nil {
		n *= 2
	}
	return n
}

// Timestamps a record may carry: it is its row's write time (USING TIMESTAMP), so a
// record without one (-1) or with an absurd one would silently lose to, or forever
// win over, every other version of its row. The same bounds hold for a write time
// taken from the value (rows.ValueTimed).
var (
	minRecordTime    = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)
	maxRecordTimeAdd = 24 * time.Hour // after now
)

// tombstone decodes a record with a key and a null value into the deletion of its
// row, at the record's write time, where the dataset's rows are named by their keys
// and tombstones are not kept; ok is false for any other record, which is decoded.
func (w *Worker) tombstone(m kafka.Message, valueTimed bool) (row rows.Row, ok bool, err error) {
	ts, isTombstoner := w.dataset.(rows.Tombstoner)
	if m.Value != nil || len(m.Key) == 0 || !isTombstoner || valueTimed || w.cfg.KeepTombstones {
		return rows.Row{}, false, nil
	}
	row, err = ts.Tombstone(m.Key)
	row.Delete, row.WriteTime = true, recordWriteTime(m)
	return row, true, err
}

// recordWriteTime is the write time of the row of record m: its Kafka timestamp, a
// whole millisecond, plus its offset modulo 1000 in microseconds. Kafka timestamps
// have milliseconds only, and two versions of a row written at the same time tie in
// Cassandra, which then keeps the larger value, not the later one: the offset breaks
// the tie, so that of two versions of a key in one millisecond the later one wins,
// whatever their values, in one micro-batch or two, and on every redelivery (the
// write time depends on the record alone). Offsets that straddle a multiple of 1000
// within one millisecond would compare the wrong way round: within a micro-batch
// the earlier version is then not written at all (supersede); across micro-batches,
// that one case stays Cassandra's.
func recordWriteTime(m kafka.Message) time.Time {
	return m.Time.Truncate(time.Millisecond).Add(time.Duration(m.Offset%1000) * time.Microsecond)
}

// checkTime says why a record's timestamp t cannot be its row's write time, or nil.
func checkTime(t, now time.Time) *rows.InvalidError {
	switch {
	case t.IsZero():
		return rows.Invalid(rows.ReasonBadTimestamp, "the record has no timestamp")
	case t.Before(minRecordTime):
		return rows.Invalid(rows.ReasonBadTimestamp, "timestamp %s is before %s", t.UTC().Format(time.RFC3339Nano), minRecordTime.Format(time.DateOnly))
	case t.After(now.Add(maxRecordTimeAdd)):
		return rows.Invalid(rows.ReasonBadTimestamp, "timestamp %s is more than %v in the future", t.UTC().Format(time.RFC3339Nano), maxRecordTimeAdd)
	}
	return nil
}

// maxStackBytes bounds the stack trace a dead letter carries.
const maxStackBytes = 4 << 10

// truncate returns b cut to at most n bytes.
func truncate(b []byte, n int) []byte {
	if len(b) <= n {
		return b
	}
	return b[:n]
}
