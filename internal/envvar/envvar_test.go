package envvar

import (
	"errors"
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

func TestCheckedNamesTheVariableAndTheValueAsTyped(t *testing.T) {
	e := NewReader(func(string) (string, bool) { return " Bad-Name ", true })
	check := func(s string) error {
		if s != "ok" {
			return errors.New("want ok")
		}
		return nil
	}
	assert.Equal(t, "Bad-Name", e.Checked("CASSANDRA_TABLE", "t", check))
	assert.EqualError(t, e.Err(), `CASSANDRA_TABLE="Bad-Name": want ok`)
	assert.Equal(t, []Var{{"CASSANDRA_TABLE", "t"}}, e.Vars())
}
