package main

import (
	"bytes"
	"context"
	"debug/buildinfo"
	"errors"
	"net"
	"os"
	"os/exec"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/streampipe/streampipe/internal/testkit/progtest"
)

// The tests below run the program as its users do: a binary built once per test run.
func TestMain(m *testing.M) { progtest.Main(m) }

func binary(t *testing.T) string {
	t.Helper()
	return progtest.Program(t, "streaming")
}

// result is how a run of the binary ended.
type result struct {
	code           int
	stdout, stderr string
	took           time.Duration
}

// runBinary runs the binary with args and env (and nothing else of the test's
// environment but PATH and HOME), for at most 20 s.
func runBinary(t *testing.T, env []string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary(t), args...)
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}, env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	err := cmd.Run()
	r := result{stdout: stdout.String(), stderr: stderr.String(), took: time.Since(start)}
	var exit *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &exit) && ctx.Err() == nil:
		r.code = exit.ExitCode()
	default:
		t.Fatalf("streaming %v: %v (stderr: %s)", args, err, r.stderr)
	}
	return r
}

// trap is a listener that counts the connections made to it: a server the program
// must not contact.
type trap struct {
	addr  string
	conns atomic.Int64
}

func newTrap(t *testing.T) *trap {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	tr := &trap{addr: ln.Addr().String()}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			tr.conns.Add(1)
			_ = c.Close()
		}
	}()
	t.Cleanup(func() { _ = ln.Close() })
	return tr
}

// env points the program's servers at tr and its metrics at a port of its own.
func (tr *trap) env() []string {
	return []string{"KAFKA_BROKERS=" + tr.addr, "CASSANDRA_HOSTS=" + tr.addr, "STREAMING_METRICS_ADDR=127.0.0.1:0"}
}

func TestHelpPrintsUsageAndConnectsNowhere(t *testing.T) {
	for _, arg := range []string{"-h", "--help", "-help"} {
		t.Run(arg, func(t *testing.T) {
			tr := newTrap(t)
			r := runBinary(t, tr.env(), arg)
			assert.Equal(t, 0, r.code)
			assert.Less(t, r.took, 5*time.Second)
			assert.Contains(t, r.stdout, "Usage: streaming")
			assert.Contains(t, r.stdout, "STREAMING_TRANSACTIONS_TABLE")
			assert.Contains(t, r.stdout, "(default 1000)")
			assert.Empty(t, r.stderr)
			assert.Zero(t, tr.conns.Load(), "connections to Kafka or Cassandra")
		})
	}
}

// -version names the clients the binary links, as its build information says.
func TestVersionNamesTheClients(t *testing.T) {
	tr := newTrap(t)
	r := runBinary(t, tr.env(), "-version")
	require.Equal(t, 0, r.code, r.stderr)
	assert.True(t, strings.HasPrefix(r.stdout, "streaming "), r.stdout)
	assert.Contains(t, r.stdout, "built with go1.")
	bi, err := buildinfo.ReadFile(binary(t))
	require.NoError(t, err)
	linked := map[string]string{}
	for _, d := range bi.Deps {
		linked[d.Path] = d.Version
	}
	for _, mod := range []string{"github.com/segmentio/kafka-go", "github.com/apache/cassandra-gocql-driver/v2"} {
		require.NotEmpty(t, linked[mod], "the streaming worker links %s", mod)
		assert.Contains(t, r.stdout, mod+" "+linked[mod]+"\n")
	}
	// The Temporal SDK is named only if linked: the streaming worker does not talk to Temporal.
	if v, ok := linked["go.temporal.io/sdk"]; ok {
		assert.Contains(t, r.stdout, "go.temporal.io/sdk "+v)
	} else {
		assert.NotContains(t, r.stdout, "go.temporal.io/sdk")
	}
	assert.Zero(t, tr.conns.Load())
}

func TestUnknownFlagOrArgumentExits2(t *testing.T) {
	for _, args := range [][]string{{"-bogus"}, {"--batch-rows=5"}, {"run"}} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			tr := newTrap(t)
			r := runBinary(t, tr.env(), args...)
			assert.Equal(t, 2, r.code)
			assert.Contains(t, r.stderr, "Usage: streaming")
			assert.Empty(t, r.stdout)
			assert.Zero(t, tr.conns.Load())
		})
	}
}

func TestBadConfigurationAllAtOnceExits2(t *testing.T) {
	tr := newTrap(t)
	r := runBinary(t, append(tr.env(), "STREAMING_BATCH_WAIT=x", "STREAMING_BATCH_ROWS=-5",
		"CASSANDRA_TABLE=Bad-Name", "STREAMING_METRICS_ADDR=nonsense"))
	assert.Equal(t, 2, r.code)
	for _, want := range []string{`STREAMING_BATCH_WAIT="x"`, `STREAMING_BATCH_ROWS="-5"`,
		`CASSANDRA_TABLE="Bad-Name"`, `STREAMING_METRICS_ADDR="nonsense": want a well-formed listen address`} {
		assert.Contains(t, r.stderr, want)
	}
	assert.NotContains(t, r.stderr, "busy")
	assert.Contains(t, r.stderr, "streaming -h")
	assert.Zero(t, tr.conns.Load())
}

func TestBusyMetricsPortIsCalledBusy(t *testing.T) {
	tr := newTrap(t)
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer busy.Close()
	addr := busy.Addr().String()
	_, port, _ := net.SplitHostPort(addr)
	r := runBinary(t, append(tr.env(), "STREAMING_METRICS_ADDR="+addr))
	assert.Equal(t, 1, r.code)
	assert.Contains(t, r.stderr, "port "+port+" is busy: another program listens on "+addr)
	assert.Contains(t, r.stderr, "STREAMING_METRICS_ADDR")
	assert.Zero(t, tr.conns.Load(), "it stops before it connects")
}
