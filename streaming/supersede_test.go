package streaming

import (
	"testing"
	"time"

	gocql "github.com/apache/cassandra-gocql-driver/v2"
	"github.com/segmentio/kafka-go"
	"github.com/stretchr/testify/assert"

	"github.com/streampipe/streampipe/datasets"
	"github.com/streampipe/streampipe/rows"
)

// TestRecordWriteTimeBreaksTiesByOffset: two versions of a key produced in the same
// millisecond get write times in the order of their offsets, the same on every
// redelivery; a later millisecond always wins over an earlier one.
func TestRecordWriteTimeBreaksTiesByOffset(t *testing.T) {
	ms := time.UnixMilli(1_765_000_000_123)
	at := func(ms time.Time, offset int64) int64 {
		return recordWriteTime(kafka.Message{Time: ms, Offset: offset}).UnixMicro()
	}
	assert.Equal(t, ms.UnixMilli()*1000+41, at(ms, 12041))
	assert.Less(t, at(ms, 12041), at(ms, 12042), "same millisecond: the later offset")
	assert.Less(t, at(ms, 12999), at(ms.Add(time.Millisecond), 13000), "the next millisecond wins")
	assert.Equal(t, at(ms, 7), at(ms, 7), "deterministic")
}

// TestSupersede: of two versions of a key in a micro-batch, from one partition and one
// millisecond, the earlier is not written, also where the offsets straddle a
// multiple of 1000 (the write times would compare the wrong way round); versions in
// other milliseconds or partitions, and other keys, are all written.
func TestSupersede(t *testing.T) {
	ms := time.UnixMilli(1_765_000_000_123)
	a, b := [16]byte(gocql.UUIDFromTime(ms)), [16]byte(gocql.UUIDFromTime(ms.Add(time.Second)))
	row := func(id [16]byte, v string, partition int, offset int64, at time.Time) pendingRow {
		m := kafka.Message{Partition: partition, Offset: offset, Time: at}
		return pendingRow{Row: rows.Row{Values: []any{id, v}, WriteTime: recordWriteTime(m)}, msg: &m}
	}
	pending := []pendingRow{
		row(a, "a@999", 0, 999, ms),
		row(b, "b@1000", 0, 1000, ms),
		row(a, "a@1001", 0, 1001, ms),                               // supersedes a@999
		row(a, "a@1002-next-ms", 0, 1002, ms.Add(time.Millisecond)), // another millisecond: both written
		row(b, "b-other-partition", 1, 5, ms),                       // another partition: both written
	}
	kept, dropped := supersede(pending, []int{0})
	assert.Equal(t, 1, dropped)
	var values []string
	for _, r := range kept {
		values = append(values, r.Values[1].(string))
	}
	assert.Equal(t, []string{"b@1000", "a@1001", "a@1002-next-ms", "b-other-partition"}, values)

	// A composite key: (account), at.
	composite := []pendingRow{
		{Row: rows.Row{Values: []any{"acc", int64(1), "v1"}, WriteTime: ms}, msg: &kafka.Message{Offset: 1}},
		{Row: rows.Row{Values: []any{"acc", int64(2), "other"}, WriteTime: ms}, msg: &kafka.Message{Offset: 2}},
		{Row: rows.Row{Values: []any{"acc", int64(1), "v2"}, WriteTime: ms}, msg: &kafka.Message{Offset: 3}},
	}
	kept, dropped = supersede(composite, []int{0, 1})
	assert.Equal(t, 1, dropped)
	assert.Equal(t, "other", kept[0].Values[2])
	assert.Equal(t, "v2", kept[1].Values[2])
}

func TestPrimaryKeyColumns(t *testing.T) {
	assert.Equal(t, []int{0}, primaryKeyColumns(datasets.Users.Rows))
	assert.Equal(t, []int{0}, primaryKeyColumns(datasets.RegisteredUsers.Rows))
}
