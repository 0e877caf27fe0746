package datasets

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/streampipe/streampipe/rows"
)

// decodeCase is a message and what its dataset's Decode must make of it: a row
// (reason "") or an *rows.InvalidError with that reason.
type decodeCase struct {
	name, key, value, reason string
}

// checkDecode runs the cases against ds.Decode and returns the rows of the valid
// ones by case name.
func checkDecode(t *testing.T, ds rows.Mapping, cases []decodeCase) map[string]rows.Row {
	t.Helper()
	decoded := map[string]rows.Row{}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			row, err := ds.Decode([]byte(tc.key), []byte(tc.value))
			if tc.reason == "" {
				require.NoError(t, err)
				assert.Len(t, row.Values, len(ds.Columns()))
				decoded[tc.name] = row
				return
			}
			ie := rows.AsInvalid(err)
			require.NotNil(t, ie, "want an *rows.InvalidError, got %v", err)
			assert.Equal(t, tc.reason, ie.Reason, ie.Detail)
		})
	}
	return decoded
}

// assertRow checks that row holds want's value for every column of ds, and that want
// names every column.
func assertRow(t *testing.T, ds rows.Mapping, want map[string]any, row rows.Row) {
	t.Helper()
	cols := ds.Columns()
	require.Len(t, row.Values, len(cols))
	for i, c := range cols {
		assert.Equal(t, want[c.Name], row.Values[i], c.Name)
	}
	assert.Len(t, want, len(cols), "a column without a value in the test")
}

// columnValue returns row's value of column col of ds.
func columnValue(t *testing.T, ds rows.Mapping, row rows.Row, col string) any {
	t.Helper()
	for i, c := range ds.Columns() {
		if c.Name == col {
			return row.Values[i]
		}
	}
	t.Fatalf("%s has no column %s", ds.Name(), col)
	return nil
}

// fuzzDecode fuzzes ds.Decode from the seed messages: it never panics, every error is
// an *rows.InvalidError with a reason, and every row has a value per column, the partition
// key a UUID.
func fuzzDecode(f *testing.F, ds rows.Mapping, seeds [][2]string) {
	for _, s := range seeds {
		f.Add([]byte(s[0]), []byte(s[1]))
	}
	f.Fuzz(func(t *testing.T, key, value []byte) {
		row, err := ds.Decode(key, value)
		if err != nil {
			if ie := rows.AsInvalid(err); ie == nil || ie.Reason == "" {
				t.Fatalf("error without a reason: %v", err)
			}
			return
		}
		if len(row.Values) != len(ds.Columns()) {
			t.Fatalf("%d values for %d columns", len(row.Values), len(ds.Columns()))
		}
		if _, ok := row.Values[0].([16]byte); !ok {
			t.Fatalf("partition key is %T, not a UUID", row.Values[0])
		}
	})
}
