// Package nosecrets_test runs the three programs (worker, streaming, starter) as
// their users do, with every secret variable each reads, well-formed or not, and
// looks for the secret in everything they show: stdout, stderr (their log at debug
// level), /metrics, /healthz and their process arguments. No other package imports
// it: it holds tests only.
package nosecrets_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/client"

	"github.com/streampipe/streampipe/internal/testkit/progtest"
	"github.com/streampipe/streampipe/internal/testkit/stacktest"
	"github.com/streampipe/streampipe/internal/testkit/temporaltest"
)

// The secret of the tests, in two halves that are looked for each alone: a
// message that showed part of it (up to a control character put between them)
// would show one.
const (
	head   = "TOPSECRET"
	tail   = "7f3a9c2e51d8b6"
	secret = head + "-" + tail
)

func TestMain(m *testing.M) { progtest.Main(m) }

// assertNoSecret fails the test if out, shown at where, holds any of secrets, or
// either half of the test's secret.
func assertNoSecret(t *testing.T, where, out string, secrets ...string) {
	t.Helper()
	for _, s := range append([]string{head, tail}, secrets...) {
		assert.NotContains(t, out, s, "a secret in %s", where)
	}
}

// secretVar is a secret variable, with the settings that make a program use it.
type secretVar struct {
	name string
	with map[string]string
}

var (
	temporalKey   = secretVar{"TEMPORAL_API_KEY", nil}
	kafkaUser     = secretVar{"KAFKA_SASL_USERNAME", map[string]string{"KAFKA_SASL_MECHANISM": "SCRAM-SHA-256", "KAFKA_SASL_PASSWORD": "a-good-password"}}
	kafkaPassword = secretVar{"KAFKA_SASL_PASSWORD", map[string]string{"KAFKA_SASL_MECHANISM": "SCRAM-SHA-256", "KAFKA_SASL_USERNAME": "app"}}
	cassUser      = secretVar{"CASSANDRA_USERNAME", map[string]string{"CASSANDRA_PASSWORD": "a-good-password"}}
	cassPassword  = secretVar{"CASSANDRA_PASSWORD", map[string]string{"CASSANDRA_USERNAME": "app"}}
)

// programs are the three programs, each with the secret variables it reads and
// whether it reads a Temporal profiles file; the starter's command connects to
// every server.
var programs = []struct {
	name    string
	args    []string
	secrets []secretVar
	profile bool
}{
	{"worker", nil, []secretVar{temporalKey, kafkaUser, kafkaPassword}, true},
	{"streaming", nil, []secretVar{kafkaUser, kafkaPassword, cassUser, cassPassword}, false},
	{"starter", []string{"schedule", "describe"}, []secretVar{temporalKey, kafkaUser, kafkaPassword, cassUser, cassPassword}, true},
}

// result is how a run of a program ended.
type result struct {
	code           int
	stdout, stderr string
}

// run runs program with args and env (and nothing of the test's environment), for
// at most 30 s; every server address points at a port nothing listens on.
func run(t *testing.T, program string, args []string, env map[string]string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, progtest.Program(t, program), args...)
	cmd.Env = []string{"HOME=" + t.TempDir(), "XDG_CONFIG_HOME=" + t.TempDir(), "TEMPORAL_ADDRESS=127.0.0.1:1",
		"KAFKA_BROKERS=127.0.0.1:1", "CASSANDRA_HOSTS=127.0.0.1:1", "WORKER_METRICS_ADDR=off", "STREAMING_METRICS_ADDR=off"}
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	r := result{stdout: stdout.String(), stderr: stderr.String()}
	if exit, ok := errors.AsType[*exec.ExitError](err); ok && ctx.Err() == nil {
		r.code = exit.ExitCode()
	} else if err != nil {
		t.Fatalf("%s: %v (stderr: %s)", program, err, r.stderr)
	}
	return r
}

// file writes content to a new file and returns its path.
func file(t *testing.T, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "secret")
	require.NoError(t, os.WriteFile(path, []byte(content), 0o600))
	return path
}

// Every secret variable of every program, given malformed content in its _FILE or
// in the variable itself, stops the program before it connects anywhere (exit 2),
// with a message that names the variable and the kind of problem and shows no part
// of the secret.
func TestMalformedSecretsAreRefusedByNameOnly(t *testing.T) {
	malformed := []struct {
		kind, content string
		inFile        bool
		want          string
	}{
		{"a blank line at the end", secret + "\n\n", true, "has a control character (a line break: a blank line at the end?)"},
		{"CR LF", secret + "\r\n", true, "has a control character (a carriage return: CR LF line breaks?)"},
		{"a control character", head + "\x1b-" + tail + "\n", true, "has a control character"},
		{"NUL", head + "\x00-" + tail + "\n", true, "has a control character (a NUL byte)"},
		{"not UTF-8", head + "\xff-" + tail, true, "is not valid UTF-8"},
		{"a line break in the variable", secret + "\n", false, "has a control character (a line break"},
		{"a tab in the variable", head + "\t" + tail, false, "has a control character"},
	}
	cases := 0
	for _, p := range programs {
		for _, v := range p.secrets {
			for _, m := range malformed {
				t.Run(p.name+"/"+v.name+"/"+m.kind, func(t *testing.T) {
					env := map[string]string{}
					for k, val := range v.with {
						env[k] = val
					}
					named := v.name
					if m.inFile {
						named += "_FILE"
						env[named] = file(t, m.content)
					} else {
						env[named] = m.content
					}
					r := run(t, p.name, p.args, env)
					assert.Equal(t, 2, r.code, r.stderr)
					assert.Contains(t, r.stderr, named+": the ")
					assert.Contains(t, r.stderr, m.want)
					assertNoSecret(t, "stderr", r.stderr)
					assertNoSecret(t, "stdout", r.stdout)
				})
				cases++
			}
		}
		if !p.profile {
			continue
		}
		for kind, toml := range map[string]string{
			"bad TOML: a bare api_key":      "[profile.default]\napi_key = " + secret + "\n",
			"bad TOML: an open string":      "[profile.default]\napi_key = \"" + secret + "\naddress = \"a:7233\"\n",
			"bad TOML: CR LF in a string":   "[profile.default]\r\napi_key = \"" + secret + "\r\n\"\r\n",
			"a line break in the api_key":   "[profile.default]\napi_key = \"" + secret + "\\n\"\n",
			"a NUL in the api_key":          "[profile.default]\napi_key = \"" + head + "\\u0000" + tail + "\"\n",
			"an api_key of the wrong type":  "[profile.default]\napi_key = [\"" + secret + "\"]\n",
			"a CR in the api_key, CR LF'd":  "[profile.default]\r\napi_key = \"" + secret + "\\r\"\r\n",
			"a blank line, then the key":    "\n\n[profile.default]\napi_key = '" + secret + "\n'\n",
			"an api_key in the wrong table": "[profile]\napi_key = \"" + secret + "\"\n[profile.default]\n",
		} {
			t.Run(p.name+"/profile/"+kind, func(t *testing.T) {
				profiles := file(t, toml)
				r := run(t, p.name, p.args, map[string]string{"TEMPORAL_CONFIG_FILE": profiles})
				assert.Equal(t, 2, r.code, r.stderr)
				assert.Contains(t, r.stderr, profiles, "the file is named")
				assertNoSecret(t, "stderr", r.stderr)
				assertNoSecret(t, "stdout", r.stdout)
			})
			cases++
		}
	}
	t.Logf("%d malformed secrets refused by name, none shown", cases)
}

// process is a program running in the background.
type process struct {
	cmd *exec.Cmd
	out string // the file of its stdout and stderr
	ops string // where it serves /metrics and /healthz
}

// output is what the program wrote so far.
func (p *process) output(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(p.out)
	require.NoError(t, err)
	return string(b)
}

// freeAddr is a loopback address nothing listens on now.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	return ln.Addr().String()
}

// start runs program with env (no other variable of the test's), serving /metrics
// and /healthz on a port of its own; it is stopped when the test ends.
func start(t *testing.T, program, opsVar string, env map[string]string) *process {
	t.Helper()
	p := &process{out: filepath.Join(t.TempDir(), program+".out"), ops: freeAddr(t)}
	out, err := os.Create(p.out)
	require.NoError(t, err)
	defer out.Close() // the program holds its own
	p.cmd = exec.Command(progtest.Program(t, program))
	p.cmd.Env = []string{"HOME=" + t.TempDir(), "XDG_CONFIG_HOME=" + t.TempDir(), opsVar + "=" + p.ops}
	for k, v := range env {
		p.cmd.Env = append(p.cmd.Env, k+"="+v)
	}
	p.cmd.Stdout, p.cmd.Stderr = out, out
	require.NoError(t, p.cmd.Start())
	t.Cleanup(func() {
		p.stop(t)
		if t.Failed() {
			t.Logf("%s output:\n%s", program, p.output(t))
		}
	})
	return p
}

// get is the body of the program's path, once it answers (any status).
func (p *process) get(t *testing.T, path string) string {
	t.Helper()
	var body string
	require.Eventually(t, func() bool {
		res, err := http.Get("http://" + p.ops + path)
		if err != nil {
			return false
		}
		defer res.Body.Close()
		b, err := io.ReadAll(res.Body)
		body = fmt.Sprintf("%d %s", res.StatusCode, b)
		return err == nil
	}, 30*time.Second, 100*time.Millisecond, "%s does not answer %s", p.cmd.Path, path)
	return body
}

// args are the process's arguments as `ps` shows them to every local user.
func (p *process) args(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", p.cmd.Process.Pid))
	require.NoError(t, err)
	return string(b)
}

// stop sends SIGTERM and waits for the end.
func (p *process) stop(t *testing.T) {
	if p.cmd.ProcessState != nil {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { _ = p.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		_ = p.cmd.Process.Kill()
		<-done
		t.Errorf("%s did not stop on SIGTERM within 30 s", p.cmd.Path)
	}
}

// look waits until /healthz answers as want says, then fetches everything the
// running program shows — /metrics, /healthz, its process arguments — then stops
// it and adds its output (its log at debug level): by where it was shown.
func (p *process) look(t *testing.T, want string) map[string]string {
	t.Helper()
	require.Eventually(t, func() bool { return strings.Contains(p.get(t, "/healthz"), want) }, time.Minute, 200*time.Millisecond,
		"/healthz never said %q", want)
	shown := map[string]string{"/healthz": p.get(t, "/healthz"), "/metrics": p.get(t, "/metrics"), "ps args": p.args(t)}
	p.stop(t)
	shown["output"] = p.output(t)
	return shown
}

// The programs running with well-formed secrets — the Temporal API key from a file
// through a front that wants it with mutual TLS, a Kafka PLAIN password and a
// Cassandra password, each from a file — show none of them in their log at debug
// level, /metrics, /healthz or their arguments. A password that goes in plaintext
// (PLAIN without TLS; Cassandra without TLS) is warned about, once, and so is
// TEMPORAL_TLS_INSECURE_SKIP_VERIFY=1, which the worker honours.
func TestRunningProgramsShowNoSecret(t *testing.T) {
	stacktest.Needs(t, stacktest.NeedsTemporal, stacktest.NeedsKafka, stacktest.NeedsCassandra)
	name := fmt.Sprintf("nosecrets_%d", time.Now().UnixNano())
	pwFile := file(t, secret+"\n")

	t.Run("worker", func(t *testing.T) {
		f := temporaltest.SecureFront(t)
		env := f.Env()
		delete(env, "TEMPORAL_API_KEY")
		env["TEMPORAL_API_KEY_FILE"] = file(t, temporaltest.APIKey+"\n")
		// The front's certificate is of a CA of the test's, not given: the worker
		// gets through only if it does not check it, as the unsafe variable asks.
		delete(env, "TEMPORAL_TLS_SERVER_CA_CERT_PATH")
		env["TEMPORAL_TLS_INSECURE_SKIP_VERIFY"] = "1"
		// No broker at that address: a broker that does not take SASL is a
		// misconfiguration, which stops the worker at start; one that cannot be
		// reached is waited for, named on /healthz.
		for k, v := range map[string]string{"KAFKA_BROKERS": "127.0.0.1:1", "KAFKA_TOPIC": name,
			"TEMPORAL_TASK_QUEUE": name, "TEMPORAL_SCHEDULE_ID": name, "LOG_LEVEL": "debug",
			"KAFKA_SASL_MECHANISM": "PLAIN", "KAFKA_SASL_USERNAME": "app", "KAFKA_SASL_PASSWORD_FILE": pwFile} {
			env[k] = v
		}
		c, err := client.Dial(client.Options{HostPort: stacktest.TemporalAddress(t), Namespace: stacktest.TemporalNamespace()})
		require.NoError(t, err)
		t.Cleanup(func() {
			_ = c.ScheduleClient().GetHandle(context.Background(), name).Delete(context.Background())
			c.Close()
		})
		p := start(t, "worker", "WORKER_METRICS_ADDR", env)
		shown := p.look(t, "waiting for kafka (KAFKA_BROKERS) since")
		for where, out := range shown {
			assertNoSecret(t, where, out, temporaltest.APIKey, f.Client.KeyMaterial())
		}
		assert.Equal(t, 1, strings.Count(shown["output"],
			"KAFKA_SASL_PASSWORD_FILE (KAFKA_SASL_MECHANISM=PLAIN) is sent to the server in plaintext (KAFKA_TLS is not 1)"))
		assert.Contains(t, shown["output"], "worker started")
		assert.Equal(t, 1, strings.Count(shown["output"], "TEMPORAL_TLS_INSECURE_SKIP_VERIFY=1: the Temporal server's certificate is not checked"))
	})

	t.Run("streaming", func(t *testing.T) {
		user, _ := stacktest.CassandraCredentials()
		if user != "" {
			t.Skip("the stack's Cassandra wants its own user: this test gives it another password")
		}
		p := start(t, "streaming", "STREAMING_METRICS_ADDR", map[string]string{
			"KAFKA_BROKERS": strings.Join(stacktest.KafkaBrokers(t), ","), "CASSANDRA_HOSTS": strings.Join(stacktest.CassandraHosts(t), ","),
			"KAFKA_TOPIC": name, "STREAMING_GROUP": name, "CASSANDRA_TABLE": name, "STREAMING_LOG_LEVEL": "debug",
			"CASSANDRA_USERNAME": "app", "CASSANDRA_PASSWORD_FILE": pwFile,
		})
		shown := p.look(t, "200 ok")
		for where, out := range shown {
			assertNoSecret(t, where, out)
		}
		assert.Equal(t, 1, strings.Count(shown["output"], "CASSANDRA_PASSWORD_FILE is sent to the server in plaintext (CASSANDRA_TLS is not 1)"))
	})

	t.Run("starter", func(t *testing.T) {
		f := temporaltest.SecureFront(t)
		env := f.Env()
		delete(env, "TEMPORAL_API_KEY")
		env["TEMPORAL_API_KEY_FILE"] = file(t, temporaltest.APIKey+"\n")
		env["TEMPORAL_SCHEDULE_ID"] = name
		env["CASSANDRA_USERNAME"], env["CASSANDRA_PASSWORD_FILE"] = "app", pwFile
		r := run(t, "starter", []string{"schedule", "describe"}, env)
		assert.Equal(t, 1, r.code, "the schedule does not exist: %s", r.stderr)
		assert.Contains(t, r.stderr, name, "it got as far as Temporal, through the front")
		assert.Equal(t, 1, strings.Count(r.stderr, "CASSANDRA_PASSWORD_FILE is sent to the server in plaintext"))
		for where, out := range map[string]string{"stdout": r.stdout, "stderr": r.stderr} {
			assertNoSecret(t, where, out, temporaltest.APIKey, f.Client.KeyMaterial())
		}
	})
}
