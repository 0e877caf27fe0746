// Package stacktest gives integration tests the addresses of the local stack's
// real services (Temporal, Kafka, Cassandra).
//
// An integration test says at its first line what it needs: stacktest.Needs(t,
// stacktest.NeedsKafka, …), or a skip under -short that says why. When a service does not
// answer, the test fails with a message naming the service and how to start it; it
// never skips, except under `go test -short`, which runs unit tests only and so
// touches no server. Such a test sits in a file named *_integration_test.go.
// TestIntegrationTestsSayWhatTheyNeed checks every test and every file name.
package stacktest

import (
	"errors"
	"io/fs"
	"math/rand/v2"
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
func env(name, def string) string { return envvar.NewReader(os.LookupEnv).Str(name, def, "") }

// list is the variable's comma list, or def alone when it names nothing.
func list(name, def string) []string {
	if out := envvar.NewReader(os.LookupEnv).List(name, def, ""); len(out) > 0 {
		return out
	}
	return []string{def}
}

// Private is a server of a test's own, started by stack/stack.sh in a folder of the
// test's, on free ports: a test may stop and start it, or configure it otherwise,
// without disturbing the local stack that other tests and people use.
type Private struct {
	t       testing.TB
	script  string
	service string // kafka, cassandra
	env     []string
	Dir     string // its STREAMPIPE_STACK_DIR: data, logs, tls/ and secure.env
}

// startPrivate starts service with `stack/stack.sh up SERVICE` (the script at script,
// e.g. "../stack/stack.sh") in a temporary folder, with env added to the test's
// environment, and stops it when the test ends.
func startPrivate(t testing.TB, script, service string, env ...string) Private {
	t.Helper()
	if testing.Short() {
		t.Skipf("integration test: starts a %s of its own; not run under -short", service)
	}
	abs, err := filepath.Abs(script)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	p := Private{t: t, script: abs, service: service, Dir: dir,
		env: append(append(os.Environ(), "STREAMPIPE_STACK_DIR="+dir), env...)}
	t.Cleanup(func() { // before t.TempDir's own clean-up, which runs later
		if out, err := p.run("down", service); err != nil {
			t.Errorf("stopping the test's %s: %v\n%s", service, err, out)
		}
	})
	p.Start()
	return p
}

// Start starts the server (again) and returns once it answers.
func (p Private) Start() {
	p.t.Helper()
	if out, err := p.run("up", p.service); err != nil {
		p.t.Fatalf("starting the test's %s: %v\n%s", p.service, err, out)
	}
}

// Stop stops the server (SIGTERM, then SIGKILL) and returns once it is gone.
func (p Private) Stop() {
	p.t.Helper()
	if out, err := p.run("down", p.service); err != nil {
		p.t.Fatalf("stopping the test's %s: %v\n%s", p.service, err, out)
	}
}

func (p Private) run(args ...string) ([]byte, error) { return p.Script(nil, args...) }

// Script runs stack/stack.sh with args on this server's stack, with env added to
// (and overriding) its environment, and returns its output.
func (p Private) Script(env []string, args ...string) ([]byte, error) {
	cmd := exec.Command(p.script, args...)
	cmd.Env = append(slices.Clip(p.env), env...)
	return cmd.CombinedOutput()
}

// Kafka is a Kafka server of a test's own.
type Kafka struct {
	Private
	Brokers []string // its address, host:port
	// Env is the KAFKA_* settings of its clients that the stack wrote to secure.env
	// in its secured mode: brokers, TLS files, SASL mechanism, user and password
	// file. Empty if plaintext.
	Env map[string]string
}

// PrivateKafka starts a Kafka of the test's own with `stack/stack.sh up kafka` (the
// script at script, e.g. "../stack/stack.sh"), with env added to the script's
// environment (e.g. STACK_SECURE=1 for the stack's secured mode: SASL_SSL with a
// client certificate and SCRAM users), and stops it when the test ends. It takes
// 5–30 s and ~0.5 GB.
func PrivateKafka(t testing.TB, script string, env ...string) *Kafka {
	t.Helper()
	port, controller := FreePort(t), FreePort(t)
	k := &Kafka{
		Private: startPrivate(t, script, "kafka", append([]string{"STACK_SECURE=0",
			"STACK_KAFKA_PORT=" + strconv.Itoa(port), "STACK_KAFKA_CONTROLLER_PORT=" + strconv.Itoa(controller)}, env...)...),
		Brokers: []string{"127.0.0.1:" + strconv.Itoa(port)},
	}
	k.Env = k.secureEnv("KAFKA_")
	return k
}

// Cassandra is a Cassandra server of a test's own.
type Cassandra struct {
	Private
	Hosts []string // its CQL address, host:port
	// Env is the CASSANDRA_* settings of its clients that the stack wrote to
	// secure.env in its secured mode: hosts, user, password file, TLS files and local
	// data centre. Empty if plaintext.
	Env map[string]string
}

// PrivateCassandra starts a Cassandra of the test's own, with env added to the
// script's environment (e.g. CASSANDRA_AUTH=1, or STACK_SECURE=1 for the stack's
// secured mode: CQL over TLS only with a client certificate, and
// PasswordAuthenticator), and stops it when the test ends. It takes 30–60 s and
// ~1.5 GB.
func PrivateCassandra(t testing.TB, script string, env ...string) *Cassandra {
	t.Helper()
	port, storage := FreePort(t), FreePort(t)
	c := &Cassandra{
		Private: startPrivate(t, script, "cassandra", append([]string{"STACK_SECURE=0", "CASSANDRA_AUTH=0",
			"STACK_CASSANDRA_PORT=" + strconv.Itoa(port), "STACK_CASSANDRA_STORAGE_PORT=" + strconv.Itoa(storage)}, env...)...),
		Hosts: []string{"127.0.0.1:" + strconv.Itoa(port)},
	}
	c.Env = c.secureEnv("CASSANDRA_")
	return c
}

// secureEnv is the settings, NAME to value, of the lines of the stack's secure.env
// whose names start with prefix: the clients' settings of a secured server; empty
// when the server is plaintext (no secure.env).
func (p Private) secureEnv(prefix string) map[string]string {
	p.t.Helper()
	env := map[string]string{}
	b, err := os.ReadFile(filepath.Join(p.Dir, "secure.env"))
	if errors.Is(err, fs.ErrNotExist) {
		return env // plaintext
	}
	if err != nil {
		p.t.Fatalf("the secured %s's client settings: %v", p.service, err)
	}
	for line := range strings.Lines(string(b)) {
		if k, v, ok := strings.Cut(strings.TrimSpace(line), "="); ok && strings.HasPrefix(k, prefix) {
			env[k] = v
		}
	}
	return env
}

// The ports FreePort hands out: below the kernel's ephemeral range (32768–60999 on
// Linux), and apart from the ports the stack and the scripts fix (7000–9999,
// 17000–19999, 22000–24999, 27000–29999). A port in the ephemeral range may be taken
// at any moment as the local end of some process's outgoing connection: a test's
// server restarted on it could then not listen, and a client dialing it while the
// server is down may connect to itself.
const freePortsFrom, freePortsTo = 10000, 17000

// FreePort returns a loopback TCP port nothing listens on at the moment, outside the
// ephemeral range.
func FreePort(t testing.TB) int {
	t.Helper()
	n := freePortsTo - freePortsFrom
	first := rand.IntN(n) // tests running at once try different ports first
	for i := range n {
		port := freePortsFrom + (first+i)%n
		ln, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port))
		if err == nil {
			_ = ln.Close()
			return port
		}
	}
	t.Fatalf("no free loopback port in %d–%d", freePortsFrom, freePortsTo-1)
	return 0
}
