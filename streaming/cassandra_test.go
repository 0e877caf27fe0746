package streaming

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestCredentialsRejected(t *testing.T) {
	for _, tc := range []struct {
		msg  string
		want bool
	}{
		// What gocql v2 says to a wrong password against Cassandra 5.0 (seen on the local stack).
		{"gocql: unable to create session: unable to discover protocol version: Provided username cassandra and/or password are incorrect", true},
		// No credentials given to a cluster that wants them (gocql conn.go).
		{`gocql: unable to create session: authentication required (using "org.apache.cassandra.auth.PasswordAuthenticator")`, true},
		{"gocql: unable to create session: unable to discover protocol version: dial tcp 127.0.0.1:9042: connect: connection refused", false},
	} {
		assert.Equal(t, tc.want, credentialsRejected(errors.New(tc.msg)), tc.msg)
	}
}

// A dataset's primary key clause and a live table's key columns come to the same
// clause when they are the same key.
func TestPrimaryKeyClauses(t *testing.T) {
	for clause, want := range map[string]string{
		"id":                "((id))",
		"(account), at":     "((account), at)",
		"account, at, n":    "((account), at, n)",
		"(A, b), c":         "((a, b), c)",
		" ( a ,b ) , c , d": "((a, b), c, d)",
	} {
		assert.Equal(t, want, keyClause(splitKey(clause)), clause)
	}
	assert.Equal(t, "((a, b), c, d)", liveKey(map[string]liveColumn{
		"d": {"text", "clustering", 1}, "b": {"text", "partition_key", 1}, "x": {"text", "regular", -1},
		"c": {"int", "clustering", 0}, "a": {"uuid", "partition_key", 0},
	}))
}
