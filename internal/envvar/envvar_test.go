package envvar

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
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
			assert.Equal(t, tt.want, e.ListenAddr("WORKER_METRICS_ADDR", ":9101", ""))
			if tt.ok {
				assert.NoError(t, e.Err())
			} else {
				assert.ErrorContains(t, e.Err(), `WORKER_METRICS_ADDR="`+tt.value+`": want a well-formed listen address`)
				assert.ErrorContains(t, e.Err(), "malformed")
			}
		})
	}
}

func TestVarsRecordsEachVariableOnceWithItsDefaultMeaningAndGroup(t *testing.T) {
	e := NewReader(func(string) (string, bool) { return "", false })
	e.Str("A", "a", "what A is")
	e.Positive("B", 3, "what B is")
	e.Str("A", "other", "A again")
	e.Secret("C", "what C is")
	end := e.Group("G")
	e.Str("D", "", "what D is")
	end()
	e.Str("E", "", "what E is")
	assert.Equal(t, []Var{{Name: "A", Default: "a", Help: "what A is"}, {Name: "B", Default: "3", Help: "what B is"}, {Name: "C", Help: "what C is"},
		{Name: "C_FILE", Help: "a file holding `C` instead (a Docker or Kubernetes secret; its final line break dropped); setting both is an error"},
		{Name: "D", Help: "what D is", Group: "G"}, {Name: "E", Help: "what E is"}}, e.Vars())
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
			assert.Equal(t, tt.want, e.Secret("PW", ""))
			if tt.wantErr == "" {
				assert.NoError(t, e.Err())
				return
			}
			assert.EqualError(t, e.Err(), tt.wantErr)
			assert.NotContains(t, e.Err().Error(), "s3cret")
		})
	}
}

// A secret with anything wrong in it is refused with the variable's name and the
// kind of problem, never any part of the value: a file keeps exactly one final line
// break dropped.
func TestSecretRefusesMalformedContent(t *testing.T) {
	const pw = "TOPSECRET-pw"
	tests := []struct {
		name, file, env, want string
	}{
		{"a blank line at the end", pw + "\n\n", "", "DB_PASSWORD_FILE: the password has a control character (a line break: a blank line at the end?)"},
		{"CR LF", pw + "\r\n", "", "DB_PASSWORD_FILE: the password has a control character (a carriage return: CR LF line breaks?)"},
		{"a control character", "TOP\x1bSECRET-pw\n", "", "DB_PASSWORD_FILE: the password has a control character"},
		{"NUL", "TOPSECRET\x00pw", "", "DB_PASSWORD_FILE: the password has a control character (a NUL byte)"},
		{"not UTF-8", "TOPSECRET\xffpw\n", "", "DB_PASSWORD_FILE: the password is not valid UTF-8"},
		{"empty file", "\n", "", "DB_PASSWORD_FILE=%q: the file is empty"},
		{"line break in the variable", "", pw + "\n", "DB_PASSWORD: the password has a control character (a line break: a blank line at the end?)"},
		{"tab in the variable", "", "TOPSECRET\tpw", "DB_PASSWORD: the password has a control character"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := map[string]string{}
			want := tt.want
			if tt.file != "" {
				env["DB_PASSWORD_FILE"] = filepath.Join(t.TempDir(), "pw")
				require.NoError(t, os.WriteFile(env["DB_PASSWORD_FILE"], []byte(tt.file), 0o600))
				if strings.Contains(want, "%q") {
					want = fmt.Sprintf(want, env["DB_PASSWORD_FILE"])
				}
			} else {
				env["DB_PASSWORD"] = tt.env
			}
			e := NewReader(func(k string) (string, bool) { v, ok := env[k]; return v, ok })
			assert.Empty(t, e.Secret("DB_PASSWORD", ""))
			assert.EqualError(t, e.Err(), want)
			assert.NotContains(t, e.Err().Error(), "TOPSECRET")
		})
	}
	for noun, name := range map[string]string{"API key": "TEMPORAL_API_KEY", "user name": "KAFKA_SASL_USERNAME", "secret": "X"} {
		e := NewReader(func(k string) (string, bool) { return "a\nb", k == name })
		e.Secret(name, "")
		assert.EqualError(t, e.Err(), name+": the "+noun+" has a control character (a line break: a blank line at the end?)")
	}
}

// Warnings are kept in order, and a password is warned about only when it goes
// without TLS.
func TestWarnings(t *testing.T) {
	e := NewReader(func(string) (string, bool) { return "", false })
	e.PlaintextPassword("", "CASSANDRA_PASSWORD", false, "CASSANDRA_TLS")
	e.PlaintextPassword("pw", "CASSANDRA_PASSWORD", true, "CASSANDRA_TLS")
	assert.Empty(t, e.Warnings())
	e.PlaintextPassword("pw", "CASSANDRA_PASSWORD", false, "CASSANDRA_TLS")
	e.Warn("second %d", 2)
	assert.Equal(t, []string{"CASSANDRA_PASSWORD is sent to the server in plaintext (CASSANDRA_TLS is not 1): anyone on the network path can read it; set CASSANDRA_TLS=1",
		"second 2"}, e.Warnings())
	assert.NoError(t, e.Err())
}

func TestCheckedNamesTheVariableAndTheValueAsTyped(t *testing.T) {
	e := NewReader(func(string) (string, bool) { return " Bad-Name ", true })
	check := func(s string) error {
		if s != "ok" {
			return errors.New("want ok")
		}
		return nil
	}
	assert.Equal(t, "Bad-Name", e.Checked("CASSANDRA_TABLE", "t", check, ""))
	assert.EqualError(t, e.Err(), `CASSANDRA_TABLE="Bad-Name": want ok`)
	assert.Equal(t, []Var{{Name: "CASSANDRA_TABLE", Default: "t"}}, e.Vars())
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
			e.Addrs("K", "localhost:9092", tt.needPort, "")
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
	v, ok := e.Lookup("SET", "d", "")
	assert.True(t, ok)
	assert.Equal(t, "x", v)
	_, ok = e.Lookup("BLANK", "", "")
	assert.False(t, ok)
	_, ok = e.Lookup("UNSET", "", "")
	assert.False(t, ok)
	assert.Equal(t, []Var{{Name: "SET", Default: "d"}, {Name: "BLANK"}, {Name: "UNSET"}}, e.Vars())
}

func TestWaitTakesZeroDurationDoesNot(t *testing.T) {
	for value, want := range map[string]time.Duration{"0s": 0, "0": 0, "50ms": 50 * time.Millisecond} {
		e := NewReader(func(string) (string, bool) { return value, true })
		assert.Equal(t, want, e.Wait("STREAMING_BATCH_WAIT", time.Second, ""), value)
		assert.NoError(t, e.Err(), value)
	}
	e := NewReader(func(string) (string, bool) { return "-1s", true })
	e.Wait("STREAMING_BATCH_WAIT", time.Second, "")
	assert.ErrorContains(t, e.Err(), `STREAMING_BATCH_WAIT="-1s": want a duration of 0 or more`)
	e = NewReader(func(string) (string, bool) { return "0s", true })
	e.Duration("STREAMING_DRAIN_TIMEOUT", time.Second, "")
	assert.ErrorContains(t, e.Err(), `STREAMING_DRAIN_TIMEOUT="0s": want a positive duration`)
}
