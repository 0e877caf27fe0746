package datasets

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestFlatStrings(t *testing.T) {
	for _, tc := range []struct {
		value string
		takes bool
	}{
		{validUser, true},
		{`{}`, true},
		{" \t\r\n{ \"id\" : \"x\" , \"email\" : null }\n", true},
		{`{"id":"x","id":"y"}`, true},
		{`{"id":"Zoë"}`, true},
		{`{"id":"a\"b"}`, false},     // an escape
		{`{"id":"a\u00e9"}`, false},  // an escape
		{"{\"id\":\"a\tb\"}", false}, // a control character
		{"{\"id\":\"\xff\"}", false}, // not UTF-8
		{`{"ID":"x"}`, false},        // a name in another case
		{`{"extra":"x"}`, false},     // a name of no field
		{`{"id":1}`, false},
		{`{"id":"x",}`, false},
		{`{"id":"x"} x`, false},
		{`{"id":"x"`, false},
		{`{"id" "x"}`, false},
		{`{"id":nul}`, false},
		{`[]`, false},
		{`null`, false},
		{``, false},
	} {
		var u User
		assert.Equal(t, tc.takes, flatStrings([]byte(tc.value), userNames, userFields(&u)), "%s", tc.value)
		if tc.takes {
			var want User
			require.NoError(t, json.Unmarshal([]byte(tc.value), &want), tc.value)
			assert.Equal(t, want, u, tc.value)
		}
	}
}

// Whatever flatStrings takes, encoding/json decodes without error into the same
// User.
func FuzzFlatStrings(f *testing.F) {
	for _, s := range []string{validUser, `{}`, `{"id":null}`, `{"id":"x","id":"y"}`, `{"id":"Zoë" , "email":"\u00e9"}`,
		"{\"id\":\"\xff\"}", `{"id":"x"} `, `{"id":"x",}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, value []byte) {
		var u User
		if !flatStrings(value, userNames, userFields(&u)) {
			return
		}
		var want User
		require.NoError(t, json.Unmarshal(value, &want), "%q", value)
		require.Equal(t, want, u, "%q", value)
	})
}
