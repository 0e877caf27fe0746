package envvar

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestListenAddr(t *testing.T) {
	tests := []struct {
		value, want string
		ok          bool
	}{
		{"", ":9101", true},
		{"off", "", true},
		{"127.0.0.1:9200", "127.0.0.1:9200", true},
		{":0", ":0", true},
		{"9101", "", false},
		{"localhost:http", "", false},
		{"127.0.0.1:99999", "", false},
		{"http://127.0.0.1:9101", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.value, func(t *testing.T) {
			e := NewReader(func(string) (string, bool) { return tt.value, true })
			assert.Equal(t, tt.want, e.ListenAddr("WORKER_METRICS_ADDR", ":9101"))
			if tt.ok {
				assert.NoError(t, e.Err())
			} else {
				assert.ErrorContains(t, e.Err(), `WORKER_METRICS_ADDR="`+tt.value+`": want a well-formed listen address`)
				assert.ErrorContains(t, e.Err(), "malformed")
			}
		})
	}
}

func TestVarsRecordsEachVariableOnceWithItsDefault(t *testing.T) {
	e := NewReader(func(string) (string, bool) { return "", false })
	e.Str("A", "a")
	e.Positive("B", 3)
	e.Str("A", "other")
	e.Verbatim("C")
	assert.Equal(t, []Var{{"A", "a"}, {"B", "3"}, {"C", ""}}, e.Vars())
}
