// Package stacktest gives integration tests the addresses of the local stack's
// real services (Temporal, Kafka, Cassandra).
//
// A test that needs a service calls the matching function first. When the service
// does not answer, the test fails with a message naming the service and how to start
// it; it never skips, except under `go test -short`, which runs unit tests only.
package stacktest

import (
	"net"
	"os"
	"testing"
	"time"

	"github.com/streampipe/streampipe/internal/envvar"
)

const dialTimeout = 5 * time.Second

// KafkaBrokers returns the brokers of KAFKA_BROKERS (default localhost:9092) after
// checking that the first one accepts connections.
func KafkaBrokers(t testing.TB) []string {
	t.Helper()
	brokers := list("KAFKA_BROKERS", "localhost:9092")
	require(t, "Kafka", brokers[0])
	return brokers
}

// CassandraHosts returns the hosts of CASSANDRA_HOSTS (default localhost:9042) after
// checking that the first one accepts connections.
func CassandraHosts(t testing.TB) []string {
	t.Helper()
	hosts := list("CASSANDRA_HOSTS", "localhost:9042")
	require(t, "Cassandra", hosts[0])
	return hosts
}

// CassandraCredentials returns CASSANDRA_USERNAME and CASSANDRA_PASSWORD (empty: no
// authentication).
func CassandraCredentials() (username, password string) {
	return os.Getenv("CASSANDRA_USERNAME"), os.Getenv("CASSANDRA_PASSWORD")
}

// TemporalAddress returns TEMPORAL_ADDRESS (default localhost:7233) after checking
// that it accepts connections.
func TemporalAddress(t testing.TB) string {
	t.Helper()
	addr := env("TEMPORAL_ADDRESS", "localhost:7233")
	require(t, "Temporal", addr)
	return addr
}

// TemporalNamespace returns TEMPORAL_NAMESPACE (default "default").
func TemporalNamespace() string {
	return env("TEMPORAL_NAMESPACE", "default")
}

func require(t testing.TB, service, addr string) {
	t.Helper()
	if testing.Short() {
		t.Skipf("integration test: needs %s; not run under -short", service)
	}
	conn, err := net.DialTimeout("tcp", addr, dialTimeout)
	if err != nil {
		t.Fatalf("%s is not reachable at %s (%v): start the local stack with `make stack-up` "+
			"(or run `make test`, which starts it), or point the environment at a running %s",
			service, addr, err, service)
	}
	_ = conn.Close()
}

// env reads a variable the way the programs do.
func env(name, def string) string { return envvar.NewReader(os.LookupEnv).Str(name, def) }

// list is the variable's comma list, or def alone when it names nothing.
func list(name, def string) []string {
	if out := envvar.NewReader(os.LookupEnv).List(name, def); len(out) > 0 {
		return out
	}
	return []string{def}
}
