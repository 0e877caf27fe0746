package streaming

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/streampipe/streampipe/rows"
)

// keys returns the first value of each row of each group.
func keys(groups [][]pendingRow) [][]string {
	out := make([][]string, len(groups))
	for i, g := range groups {
		for _, r := range g {
			out[i] = append(out[i], r.Values[0].(string))
		}
	}
	return out
}

// rowsOn returns rows named "<owner><n>" of records of 1 byte, owner being one letter: the
// owner function of the tests reads it back.
func rowsOn(names ...string) []pendingRow {
	pending := make([]pendingRow, len(names))
	for i, n := range names {
		pending[i] = pendingRow{Row: rows.Row{Values: []any{n}}, size: 2}
	}
	return pending
}

func ownerLetter(r rows.Row) string {
	if o := r.Values[0].(string)[:1]; o != "?" {
		return o
	}
	return ""
}

func TestGroupRows(t *testing.T) {
	t.Run("rows of one owner go together, in order", func(t *testing.T) {
		got := groupRows(rowsOn("a1", "b1", "a2", "c1", "b2", "a3"), ownerLetter, 10, 100)
		assert.Equal(t, [][]string{{"a1", "a2", "a3"}, {"b1", "b2"}, {"c1"}}, keys(got))
	})
	t.Run("a group holds at most maxRows", func(t *testing.T) {
		got := groupRows(rowsOn("a1", "a2", "b1", "a3", "a4", "a5"), ownerLetter, 2, 100)
		assert.Equal(t, [][]string{{"a1", "a2"}, {"b1"}, {"a3", "a4"}, {"a5"}}, keys(got))
	})
	t.Run("a group holds at most maxBytes, and at least one row", func(t *testing.T) {
		pending := rowsOn("a1", "a2", "a3", "a4")
		pending[0].size, pending[1].size, pending[2].size, pending[3].size = 80, 100, 400, 20 // records of 40, 50, 200 and 10 bytes
		got := groupRows(pending, ownerLetter, 10, 100)
		assert.Equal(t, [][]string{{"a1", "a2"}, {"a3"}, {"a4"}}, keys(got))
	})
	t.Run("rows of unknown owners are alone", func(t *testing.T) {
		got := groupRows(rowsOn("?1", "a1", "?2", "a2"), ownerLetter, 10, 100)
		assert.Equal(t, [][]string{{"?1"}, {"a1", "a2"}, {"?2"}}, keys(got))
	})
	t.Run("every row once", func(t *testing.T) {
		var names []string
		for i := range 1000 {
			names = append(names, fmt.Sprintf("%c%d", 'a'+i%7, i))
		}
		n := 0
		for _, g := range groupRows(rowsOn(names...), ownerLetter, 25, 1<<20) {
			assert.LessOrEqual(t, len(g), 25)
			for _, r := range g {
				assert.Equal(t, ownerLetter(g[0].Row), ownerLetter(r.Row), "one owner per group")
			}
			n += len(g)
		}
		assert.Equal(t, 1000, n)
	})
	t.Run("no rows, no groups", func(t *testing.T) {
		assert.Empty(t, groupRows(nil, ownerLetter, 25, 100))
	})
}
