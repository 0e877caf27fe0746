package streaming

import (
	"crypto/tls"
	"errors"
	"fmt"
	"strings"
	"testing"

	gocql "github.com/apache/cassandra-gocql-driver/v2"
	"github.com/stretchr/testify/assert"

	"github.com/streampipe/streampipe/internal/misconfig"
)

// What gocql v2 says when Cassandra 5.0 refuses a session (seen on the local stack,
// plaintext and secured), and what the worker makes of it: a refusal for good names
// what to fix; anything else is retried.
func TestConnectRefused(t *testing.T) {
	const prefix = "gocql: unable to create session: unable to discover protocol version: "
	cfg := Config{Hosts: []string{"127.0.0.1:1"}, HostsFrom: "CASSANDRA_HOSTS", Username: "cassandra", TLS: &tls.Config{}}
	for _, tc := range []struct {
		msg  string
		want string // "": retry
	}{
		{prefix + "Provided username cassandra and/or password are incorrect", `rejected the credentials of user "cassandra"`},
		// No credentials given to a cluster that wants them (gocql conn.go).
		{`gocql: unable to create session: authentication required (using "org.apache.cassandra.auth.PasswordAuthenticator")`, `rejected the credentials of user "cassandra"`},
		{prefix + "tls: failed to verify certificate: x509: certificate signed by unknown authority", "presented a certificate that is not trusted"},
		{prefix + "tls: failed to verify certificate: x509: certificate is valid for localhost, not db.example.com", "presented a certificate for other names than the host dialled: connect by a name it holds, or set CASSANDRA_TLS_SERVER_NAME"},
		{prefix + "tls: failed to verify certificate: x509: certificate has expired or is not yet valid: current time …", "presented a certificate that has expired or is not yet valid"},
		{prefix + "remote error: tls: certificate required", "refused this client's certificate (mutual TLS)"},
		{prefix + "tls: first record does not look like a TLS handshake", "does not speak TLS on that port"},
		{prefix + "dial tcp 127.0.0.1:9042: connect: connection refused", ""},
	} {
		err := connectRefused(cfg, errors.New(tc.msg))
		if tc.want == "" {
			assert.NoError(t, err, tc.msg)
			continue
		}
		if assert.Error(t, err, tc.msg) {
			assert.Contains(t, err.Error(), "cassandra at 127.0.0.1:1 (CASSANDRA_HOSTS) "+tc.want)
			assert.Contains(t, err.Error(), tc.msg, "the driver's own words follow")
			m, ok := misconfig.As(err)
			if assert.True(t, ok, "a misconfiguration: exit 2, its diagnosis on /healthz") {
				assert.True(t, strings.HasPrefix(m.Public(), "cassandra (CASSANDRA_HOSTS) "), m.Public())
				assert.NotContains(t, m.Public(), "127.0.0.1", "no address on /healthz")
				assert.NotContains(t, m.Public(), `user "cassandra"`, "no user on /healthz")
			}
		}
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

// keyspaceMissing is Cassandra's answer to a CREATE TABLE whose coordinator has not
// yet taken the keyspace created a moment before (seen on three nodes).
type keyspaceMissing struct{}

func (keyspaceMissing) Code() int { return gocql.ErrCodeInvalid }
func (keyspaceMissing) Message() string {
	return "Keyspace 'spark_streaming' doesn't exist"
}
func (e keyspaceMissing) Error() string { return e.Message() }

// cassandraErr is an error as Cassandra answers it, of a code.
type cassandraErr int

func (e cassandraErr) Code() int       { return int(e) }
func (e cassandraErr) Message() string { return fmt.Sprintf("error %#x", int(e)) }
func (e cassandraErr) Error() string   { return e.Message() }

// A schema statement that fails for its configuration (a permission, a name or a
// replication Cassandra refuses) ends start-up; one that fails for a while (a
// timeout, replicas down, a lost connection) is retried.
func TestSchemaErrorGivesUpOnlyOnConfiguration(t *testing.T) {
	for _, tc := range []struct {
		err    error
		giveUp bool
	}{
		{cassandraErr(gocql.ErrCodeUnauthorized), true},
		{cassandraErr(gocql.ErrCodeSyntax), true},
		{cassandraErr(gocql.ErrCodeInvalid), true},
		{cassandraErr(gocql.ErrCodeConfig), true},
		{cassandraErr(gocql.ErrCodeCredentials), true},
		{cassandraErr(gocql.ErrCodeWriteTimeout), false},
		{cassandraErr(gocql.ErrCodeServer), false},
		{&gocql.RequestErrUnavailable{}, false},
		{errors.New("gocql: no hosts available in the pool"), false},
		{keyspaceMissing{}, false}, // just created, not yet on the coordinator
	} {
		t.Run(tc.err.Error(), func(t *testing.T) {
			_, ok := errors.AsType[giveUp](schemaError("cassandra at h", "u", "CREATE TABLE ks.t (…)", tc.err))
			assert.Equal(t, tc.giveUp, ok)
		})
	}
}
