package streaming

import (
	"fmt"
	"slices"
	"time"

	"github.com/streampipe/streampipe/rows"
)

// primaryKeyColumns are the places in rows.Row.Values of ds's primary key columns.
func primaryKeyColumns(ds rows.Mapping) []int {
	partition, clustering := splitKey(ds.PrimaryKey())
	cols := ds.Columns()
	var idx []int
	for _, name := range append(partition, clustering...) {
		if i := slices.IndexFunc(cols, func(c rows.Column) bool { return c.Name == name }); i >= 0 {
			idx = append(idx, i)
		}
	}
	return idx
}

// supersede drops from rows (in record order) each row that a later record of the
// same partition overwrites within the same millisecond: the later record's row
// always wins, even where recordWriteTime's offset tie-break wraps at a multiple of
// 1000. It returns the rows kept and how many were dropped; those are written, in
// effect, by the later version.
func supersede(rows []pendingRow, key []int) (kept []pendingRow, dropped int) {
	if len(rows) < 2 || len(key) == 0 {
		return rows, 0
	}
	type version struct {
		at        int // in rows
		partition int
		ms        time.Time
	}
	latest := make(map[any]version, len(rows))
	drop := make([]bool, len(rows))
	for i, r := range rows {
		k := rowKey(r.Values, key)
		v := version{at: i, partition: r.msg.Partition, ms: r.WriteTime.Truncate(time.Millisecond)}
		if prev, ok := latest[k]; ok && prev.partition == v.partition && prev.ms.Equal(v.ms) {
			drop[prev.at] = true
			dropped++
		}
		latest[k] = v
	}
	if dropped == 0 {
		return rows, 0
	}
	kept = rows[:0:0]
	for i, r := range rows {
		if !drop[i] {
			kept = append(kept, r)
		}
	}
	return kept, dropped
}

// rowKey is a comparable form of a row's primary key: the value of a one-column key
// of a comparable type as it is, else the text of the values.
func rowKey(values []any, key []int) any {
	if len(key) == 1 {
		switch v := values[key[0]].(type) {
		case [16]byte, string, int32, int64:
			return v
		}
	}
	parts := make([]any, len(key))
	for i, k := range key {
		parts[i] = values[k]
	}
	return fmt.Sprintf("%#v", parts)
}
