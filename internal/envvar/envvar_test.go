package envvar

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
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
	e.Secret("C")
	assert.Equal(t, []Var{{"A", "a"}, {"B", "3"}, {"C", ""}, {"C_FILE", ""}}, e.Vars())
}

// A secret comes as set, spaces kept, or from the file NAME_FILE names without its
// final line break; both set, or an unreadable file, is refused without the value.
func TestSecret(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "pw")
	require.NoError(t, os.WriteFile(file, []byte(" s3cret pw\n"), 0o600))
	tests := []struct {
		name    string
		env     map[string]string
		want    string
		wantErr string
	}{
		{"unset", nil, "", ""},
		{"as set", map[string]string{"PW": " s3cret pw "}, " s3cret pw ", ""},
		{"from a file", map[string]string{"PW_FILE": file}, " s3cret pw", ""},
		{"both", map[string]string{"PW": "x-secret", "PW_FILE": file}, "", "PW and PW_FILE are both set: set one"},
		{"no such file", map[string]string{"PW_FILE": filepath.Join(dir, "none")}, "", `PW_FILE="` + filepath.Join(dir, "none") + `": cannot read the file: no such file or directory`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := NewReader(func(k string) (string, bool) { v, ok := tt.env[k]; return v, ok })
			assert.Equal(t, tt.want, e.Secret("PW"))
			if tt.wantErr == "" {
				assert.NoError(t, e.Err())
				return
			}
			assert.EqualError(t, e.Err(), tt.wantErr)
			assert.NotContains(t, e.Err().Error(), "s3cret")
		})
	}
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

// The programs check an address to connect to one way: host:port with a port number
// (or a host alone where a list allows it), the malformed ones named.
func TestAddrs(t *testing.T) {
	tests := []struct {
		value    string
		needPort bool
		err      string
	}{
		{"k1:9092, k2:9092", true, ""},
		{"db1,db2:9042", false, ""},
		{"k1:9092,k2", true, `K="k1:9092,k2": want a comma list of host:port; k2 is malformed`},
		{"k1:http,:9092", true, `K="k1:http,:9092": want a comma list of host:port; k1:http, :9092 are malformed`},
		{"http://db", false, `K="http://db": want a comma list of host or host:port; http://db is malformed`},
		{",", true, `K=",": want a comma list of host:port`},
	}
	for _, tt := range tests {
		t.Run(tt.value, func(t *testing.T) {
			e := NewReader(func(string) (string, bool) { return tt.value, true })
			e.Addrs("K", "localhost:9092", tt.needPort)
			if tt.err == "" {
				assert.NoError(t, e.Err())
			} else {
				assert.EqualError(t, e.Err(), tt.err)
			}
		})
	}
}

// Lookup tells a set variable from an unset or blank one, and records the default
// for the usage.
func TestLookup(t *testing.T) {
	e := NewReader(func(name string) (string, bool) {
		v, ok := map[string]string{"SET": " x ", "BLANK": "  "}[name]
		return v, ok
	})
	v, ok := e.Lookup("SET", "d")
	assert.True(t, ok)
	assert.Equal(t, "x", v)
	_, ok = e.Lookup("BLANK", "")
	assert.False(t, ok)
	_, ok = e.Lookup("UNSET", "")
	assert.False(t, ok)
	assert.Equal(t, []Var{{"SET", "d"}, {"BLANK", ""}, {"UNSET", ""}}, e.Vars())
}

func TestWaitTakesZeroDurationDoesNot(t *testing.T) {
	for value, want := range map[string]time.Duration{"0s": 0, "0": 0, "50ms": 50 * time.Millisecond} {
		e := NewReader(func(string) (string, bool) { return value, true })
		assert.Equal(t, want, e.Wait("STREAMING_BATCH_WAIT", time.Second), value)
		assert.NoError(t, e.Err(), value)
	}
	e := NewReader(func(string) (string, bool) { return "-1s", true })
	e.Wait("STREAMING_BATCH_WAIT", time.Second)
	assert.ErrorContains(t, e.Err(), `STREAMING_BATCH_WAIT="-1s": want a duration of 0 or more`)
	e = NewReader(func(string) (string, bool) { return "0s", true })
	e.Duration("STREAMING_DRAIN_TIMEOUT", time.Second)
	assert.ErrorContains(t, e.Err(), `STREAMING_DRAIN_TIMEOUT="0s": want a positive duration`)
}
