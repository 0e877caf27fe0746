// Package stacktest gives integration tests the addresses of the local stack's
// real services (Temporal, Kafka, Cassandra).
//
// An integration test says at its first line what it needs: stacktest.Needs(t,
// stacktest.NeedsKafka, …), or a skip under -short that says why. When a service does not
// answer, the test fails with a message naming the service and how to start it; it
// never skips, except under `go test -short`, which runs unit tests only and so
// touches no server. TestIntegrationTestsSayWhatTheyNeed checks every test.
package stacktest

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/streampipe/streampipe/internal/envvar"
	"github.com/streampipe/streampipe/internal/kafkasec"
)

const dialTimeout = 5 * time.Second

// Service is a server of the local stack.
type Service string

// The services of the local stack.
const (
	NeedsTemporal  Service = "Temporal"
	NeedsKafka     Service = "Kafka"
	NeedsCassandra Service = "Cassandra"
	// NeedsScript is stack/stack.sh itself: the test runs it (a Kafka of its own,
	// say); Needs checks nothing for it.
	NeedsScript Service = "stack/stack.sh"
)

// Needs is the first line of an integration test: it skips the test under -short
// and fails it at once, naming the service and how to start it, when one of
// services does not answer.
func Needs(t testing.TB, services ...Service) {
	t.Helper()
	if testing.Short() {
		t.Skipf("integration test: needs %v; not run under -short", services)
	}
	for _, s := range services {
		switch s {
		case NeedsTemporal:
			TemporalAddress(t)
		case NeedsKafka:
			KafkaBrokers(t)
		case NeedsCassandra:
			CassandraHosts(t)
		}
	}
}

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

// Kafka is a Kafka server of a test's own, started by stack/stack.sh in a folder of
// the test's, on free ports: a test may stop and start it without disturbing the
// local stack that other tests and people use.
type Kafka struct {
	t       testing.TB
	script  string
	env     []string
	dir     string
	Brokers []string // its address, host:port
	// Secured only (option Secured): how clients connect, and the same as the
	// KAFKA_* lines of the stack's secure.env, for a program's environment.
	Security *kafkasec.Security
	Env      []string
}

// KafkaOption changes the Kafka PrivateKafka starts.
type KafkaOption func(*Kafka)

// Secured starts the Kafka as `STACK_SECURE=1 stack/stack.sh up kafka` does: its
// port speaks SASL_SSL with the stack's certificates and SCRAM users.
func Secured(k *Kafka) { k.env = append(k.env, "STACK_SECURE=1") }

// PrivateKafka starts a Kafka of the test's own with `stack/stack.sh up kafka` (the
// script at script, e.g. "../stack/stack.sh") and stops it when the test ends. It
// takes 5–20 s (a secured one up to 30 s) and ~0.5 GB.
func PrivateKafka(t testing.TB, script string, opts ...KafkaOption) *Kafka {
	t.Helper()
	if testing.Short() {
		t.Skip("integration test: starts a Kafka of its own; not run under -short")
	}
	abs, err := filepath.Abs(script)
	if err != nil {
		t.Fatal(err)
	}
	port, controller := FreePort(t), FreePort(t)
	k := &Kafka{
		t:      t,
		script: abs,
		dir:    t.TempDir(),
		env: append(os.Environ(), "STACK_SECURE=0",
			"STACK_KAFKA_PORT="+strconv.Itoa(port), "STACK_KAFKA_CONTROLLER_PORT="+strconv.Itoa(controller)),
		Brokers: []string{"127.0.0.1:" + strconv.Itoa(port)},
	}
	k.env = append(k.env, "STREAMPIPE_STACK_DIR="+k.dir)
	for _, o := range opts {
		o(k)
	}
	t.Cleanup(func() { // before t.TempDir's own clean-up, which runs later
		if out, err := k.Run("down", "kafka"); err != nil {
			t.Errorf("stopping the test's Kafka: %v\n%s", err, out)
		}
	})
	k.Start()
	if slices.Contains(k.env, "STACK_SECURE=1") {
		k.readSecureEnv()
	}
	return k
}

// readSecureEnv reads the KAFKA_* settings the stack wrote to secure.env into Env
// and Security, as a program reads them.
func (k *Kafka) readSecureEnv() {
	k.t.Helper()
	b, err := os.ReadFile(filepath.Join(k.dir, "secure.env"))
	if err != nil {
		k.t.Fatalf("the secured Kafka's settings: %v", err)
	}
	vars := map[string]string{}
	for line := range strings.Lines(string(b)) {
		if name, value, ok := strings.Cut(strings.TrimSpace(line), "="); ok && strings.HasPrefix(name, "KAFKA_") {
			vars[name] = value
			k.Env = append(k.Env, name+"="+value)
		}
	}
	e := envvar.NewReader(func(name string) (string, bool) { v, ok := vars[name]; return v, ok })
	k.Security = kafkasec.Read(e)
	if err := e.Err(); err != nil {
		k.t.Fatalf("the secured Kafka's settings in secure.env: %v", err)
	}
}

// Start starts the Kafka (again) and returns once it answers.
func (k *Kafka) Start() {
	k.t.Helper()
	if out, err := k.Run("up", "kafka"); err != nil {
		k.t.Fatalf("starting the test's Kafka: %v\n%s", err, out)
	}
}

// Stop stops the Kafka (SIGTERM, then SIGKILL after 30 s) and returns once it is gone.
func (k *Kafka) Stop() {
	k.t.Helper()
	if out, err := k.Run("down", "kafka"); err != nil {
		k.t.Fatalf("stopping the test's Kafka: %v\n%s", err, out)
	}
}

// Run runs stack/stack.sh with args against this Kafka's stack (e.g. "kafka-topics",
// "--list") and returns its output.
func (k *Kafka) Run(args ...string) ([]byte, error) {
	cmd := exec.Command(k.script, args...)
	cmd.Env = k.env
	return cmd.CombinedOutput()
}

// FreePort returns a loopback TCP port nothing listens on at the moment.
func FreePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}
