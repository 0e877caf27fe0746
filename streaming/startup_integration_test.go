package streaming_test

import (
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/streampipe/streampipe/internal/testkit/stacktest"
)

// Kafka that starts answering only after the worker started: the worker waits for
// it (one warning, /healthz saying what it waits for), gets through, and consumes.
func TestKafkaLateAtStartup(t *testing.T) {
	stacktest.Needs(t, stacktest.NeedsKafka, stacktest.NeedsCassandra)
	p := newPipe(t, 1)
	late := freeAddr(t)
	start := time.Now()
	pr := startProc(t, p, "late-kafka", "KAFKA_BROKERS="+late, "STREAMING_STARTUP_TIMEOUT=1m")

	// By the variable that names it: /healthz shows no addresses and no error text.
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		code, body, err := pr.healthz()
		if assert.NoError(c, err) {
			assert.Equal(c, http.StatusServiceUnavailable, code)
			// The one grammar of a wait, at start-up as later (docs/configuration.md, Operations endpoints).
			assert.Regexp(c, `^not ready\nusers: waiting for kafka \(KAFKA_BROKERS\) since \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ \(\d+s\)\n$`, body)
		}
	}, time.Minute, 50*time.Millisecond, "/healthz says what the worker waits for")
	// Kafka (a proxy to it) appears ~3 s after the worker started.
	time.Sleep(time.Until(start.Add(3 * time.Second)))
	code, body, err := pr.healthz()
	require.NoError(t, err)
	require.Equal(t, http.StatusServiceUnavailable, code,
		"the worker still waits before Kafka appears (if not, something else listens on %s): %s", late, body)
	forwarded := proxy(t, late, p.brokers[0])

	require.EventuallyWithT(t, func(c *assert.CollectT) {
		code, body, err := pr.healthz()
		if assert.NoError(c, err) {
			assert.Equal(c, http.StatusOK, code, body)
		}
	}, time.Minute, 100*time.Millisecond, "the worker gets through")
	l := newLoad()
	p.produce(l.messages(newIDs(100), 1, 0, time.Now()))
	p.waitCaughtUp(time.Minute)
	p.checkRows(l)
	assert.Positive(t, forwarded.Load(), "the worker reached Kafka through the proxy")

	logs := pr.logs.String()
	assert.Equal(t, 1, strings.Count(logs, "kafka at "+late+" (KAFKA_BROKERS) does not answer yet; waiting for it"),
		"one warning when it starts waiting:\n%s", logs)
	assert.Contains(t, logs, "level=INFO msg=\"kafka at "+late+" (KAFKA_BROKERS) answers; going on\"")
	// Each 503 is explained in the log at the default level, once, and its end too.
	assert.Equal(t, 1, strings.Count(logs, `msg="/healthz answers 503" healthz="not ready\nusers: waiting for kafka (KAFKA_BROKERS)`),
		"one line for the wait's 503s:\n%s", logs)
	assert.Contains(t, logs, `level=INFO msg="/healthz answers 200 again"`)
}

// Kafka that never answers: the worker gives up after STREAMING_STARTUP_TIMEOUT
// naming the address and the variable that set it.
func TestKafkaUnreachableAtStartup(t *testing.T) {
	stacktest.Needs(t, stacktest.NeedsKafka, stacktest.NeedsCassandra)
	p := newPipe(t, 0)
	closed := freeAddr(t)
	pr := startProc(t, p, "no-kafka", "KAFKA_BROKERS="+closed, "STREAMING_STARTUP_TIMEOUT=3s")
	var err error
	select {
	case err = <-pr.done:
		pr.done <- err // leave it for Cleanup
	case <-time.After(time.Minute):
		t.Fatal("the worker did not give up within a minute")
	}
	require.Error(t, err, "a non-zero exit")
	logs := pr.logs.String()
	assert.Contains(t, logs, "kafka at "+closed+" (KAFKA_BROKERS) is unreachable after 3s")
	assert.Contains(t, logs, "connection refused")
}

// SIGTERM while start-up waits for Kafka stops the worker at once, and it is no
// failure: exit 0.
func TestSIGTERMWhileWaitingForKafka(t *testing.T) {
	stacktest.Needs(t, stacktest.NeedsKafka, stacktest.NeedsCassandra)
	p := newPipe(t, 0)
	closed := freeAddr(t)
	pr := startProc(t, p, "sigterm-waiting", "KAFKA_BROKERS="+closed, "STREAMING_STARTUP_TIMEOUT=1m")
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		_, body, err := pr.healthz()
		if assert.NoError(c, err) {
			assert.Contains(c, body, "waiting for kafka (KAFKA_BROKERS)")
		}
	}, time.Minute, 50*time.Millisecond)
	require.NoError(t, pr.terminate(10*time.Second))
	assert.Contains(t, pr.logs.String(), "stopped during start-up")
}

// freeAddr is a loopback address nothing listens on (for now).
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	return addr
}

// proxy forwards connections to addr to target until the test ends, and counts them.
func proxy(t *testing.T, addr, target string) *atomic.Int64 {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	require.NoError(t, err)
	t.Cleanup(func() { _ = ln.Close() })
	var n atomic.Int64
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			n.Add(1)
			go func() {
				defer c.Close()
				up, err := net.Dial("tcp", target)
				if err != nil {
					return
				}
				defer up.Close()
				go func() { _, _ = io.Copy(up, c); _ = up.(*net.TCPConn).CloseWrite() }()
				_, _ = io.Copy(c, up)
			}()
		}
	}()
	return &n
}

// waitHealthy waits up to a minute for /healthz to answer 200; why fails the test
// otherwise.
func (pr *proc) waitHealthy(t *testing.T, why string) {
	t.Helper()
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		code, body, _ := pr.healthz()
		assert.Equal(c, http.StatusOK, code, body)
	}, time.Minute, 100*time.Millisecond, why)
}

// healthz is the worker's /healthz answer.
func (pr *proc) healthz() (code int, body string, err error) {
	resp, err := http.Get("http://" + pr.metrics + "/healthz")
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}
