package streaming

import "github.com/streampipe/streampipe/rows"

// groupRows splits rows into groups to be written as one unlogged batch each: the
// rows of a group have the same owner (ownerOf, e.g. the replica set of their
// partition), and a group holds at most maxRows rows and maxBytes bytes of records
// (recordBytes), and at least one row. A row whose owner is unknown ("") is a group of its own: it is never
// batched with rows that may live elsewhere. Groups follow the order of their
// first rows; rows keep their order within a group.
func groupRows(rows []pendingRow, ownerOf func(rows.Row) string, maxRows, maxBytes int) [][]pendingRow {
	var groups [][]pendingRow
	open := map[string]int{} // owner → index in groups of its group still being filled
	bytes := map[string]int{}
	for _, r := range rows {
		owner := ownerOf(r.Row)
		i, ok := open[owner]
		if owner == "" || !ok || len(groups[i]) >= maxRows || bytes[owner]+r.recordBytes() > maxBytes {
			i = len(groups)
			capacity := 1
			if owner != "" {
				capacity = min(maxRows, len(rows))
			}
			groups = append(groups, make([]pendingRow, 0, capacity))
			open[owner], bytes[owner] = i, 0
		}
		groups[i] = append(groups[i], r)
		bytes[owner] += r.recordBytes()
	}
	return groups
}

// recordBytes is the size of a row's record (key, value, headers): a bound of its
// mutation's size in Cassandra, which counts the column values. pendingRow.size
// counts a decoded record twice (item.bytes).
func (r pendingRow) recordBytes() int { return r.size / 2 }
