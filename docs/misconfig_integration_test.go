package docs_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/streampipe/streampipe/internal/testkit/progtest"
	"github.com/streampipe/streampipe/internal/testkit/stacktest"
	"github.com/streampipe/streampipe/internal/testkit/temporaltest"
	"github.com/streampipe/streampipe/internal/testkit/testcerts"
)

// misconfiguration is a row of the table of docs/configuration.md, Misconfigurations.
type misconfiguration struct {
	server, what string
	programs     []string // the commands that read the setting; none when not provoked
	says         string   // their words, … standing for a name, an address or a mechanism
}

// misconfigurations are the rows of the table.
func misconfigurations(t *testing.T) []misconfiguration {
	t.Helper()
	data, err := os.ReadFile("configuration.md")
	require.NoError(t, err)
	_, section, ok := strings.Cut(string(data), "\n## Misconfigurations\n")
	require.True(t, ok, "docs/configuration.md has a section Misconfigurations")
	section, _, _ = strings.Cut(section, "\n## ")
	var rows []misconfiguration
	for _, line := range strings.Split(section, "\n") {
		cells := strings.Split(strings.Trim(line, "|"), " | ")
		if len(cells) != 4 || !slices.Contains([]string{"Kafka", "Cassandra", "Temporal"}, strings.TrimSpace(cells[0])) {
			continue
		}
		r := misconfiguration{server: strings.TrimSpace(cells[0]), what: cells[1], says: strings.Trim(strings.TrimSpace(cells[3]), "`")}
		if !strings.HasPrefix(cells[2], "none") && !strings.HasPrefix(cells[2], "not provoked") {
			r.programs = strings.Split(cells[2], ", ")
		}
		rows = append(rows, r)
	}
	return rows
}

// securedServers are servers of the test's own, started when a row first needs one.
type securedServers struct {
	t         *testing.T // the test that owns them
	kafkaOnce sync.Once
	kafka     *stacktest.Kafka
	cassOnce  sync.Once
	cassandra *stacktest.Cassandra
	frontOnce sync.Once
	front     *temporaltest.Front
	caOnce    sync.Once
	unknownCA string // a CA certificate no server here was signed by
}

func (s *securedServers) Kafka() *stacktest.Kafka {
	s.kafkaOnce.Do(func() { s.kafka = stacktest.PrivateKafka(s.t, "../stack/stack.sh", "STACK_SECURE=1") })
	require.NotNil(s.t, s.kafka, "the secured Kafka started")
	return s.kafka
}

func (s *securedServers) Cassandra() *stacktest.Cassandra {
	s.cassOnce.Do(func() { s.cassandra = stacktest.PrivateCassandra(s.t, "../stack/stack.sh", "STACK_SECURE=1") })
	require.NotNil(s.t, s.cassandra, "the secured Cassandra started")
	return s.cassandra
}

func (s *securedServers) Front() *temporaltest.Front {
	s.frontOnce.Do(func() { s.front = temporaltest.SecureFront(s.t) })
	return s.front
}

func (s *securedServers) UnknownCA() string {
	s.caOnce.Do(func() { s.unknownCA, _ = testcerts.SelfSignedCA(s.t, "a CA no server here knows") })
	return s.unknownCA
}

// with is env (a server's client settings) with the changes of more, NAME=value;
// an empty value unsets.
func with(env map[string]string, more ...string) map[string]string {
	out := map[string]string{}
	for k, v := range env {
		out[k] = v
	}
	for _, kv := range more {
		k, v, _ := strings.Cut(kv, "=")
		out[k] = v
	}
	return out
}

// provocations make each row's misconfiguration: the settings, over the local
// stack's plaintext ones, that the row's programs run with.
var provocations = map[string]func(s *securedServers) map[string]string{
	"Kafka|TLS at a plaintext listener": func(*securedServers) map[string]string { return with(nil, "KAFKA_TLS=1") },
	"Kafka|plaintext at a TLS listener": func(s *securedServers) map[string]string {
		return with(nil, "KAFKA_BROKERS="+strings.Join(s.Kafka().Brokers, ","))
	},
	"Kafka|SASL at a listener without it": func(*securedServers) map[string]string {
		return with(nil, "KAFKA_SASL_MECHANISM=SCRAM-SHA-512", "KAFKA_SASL_USERNAME=streampipe", "KAFKA_SASL_PASSWORD="+wrongPassword)
	},
	"Kafka|a wrong password": func(s *securedServers) map[string]string {
		return with(s.Kafka().Env, "KAFKA_SASL_PASSWORD_FILE=", "KAFKA_SASL_PASSWORD="+wrongPassword)
	},
	"Kafka|a certificate from an unknown CA": func(s *securedServers) map[string]string {
		return with(s.Kafka().Env, "KAFKA_TLS_CA_FILE="+s.UnknownCA())
	},
	"Cassandra|TLS at a plaintext port": func(*securedServers) map[string]string { return with(nil, "CASSANDRA_TLS=1") },
	"Cassandra|plaintext at a TLS port": func(s *securedServers) map[string]string {
		return with(nil, "CASSANDRA_HOSTS="+strings.Join(s.Cassandra().Hosts, ","))
	},
	"Cassandra|a wrong password": func(s *securedServers) map[string]string {
		return with(s.Cassandra().Env, "CASSANDRA_PASSWORD_FILE=", "CASSANDRA_PASSWORD="+wrongPassword)
	},
	"Cassandra|a certificate from an unknown CA": func(s *securedServers) map[string]string {
		return with(s.Cassandra().Env, "CASSANDRA_TLS_CA_FILE="+s.UnknownCA())
	},
	"Temporal|TLS at a plaintext server": func(*securedServers) map[string]string { return with(nil, "TEMPORAL_TLS=true") },
	"Temporal|plaintext at a TLS server": func(s *securedServers) map[string]string {
		return with(nil, "TEMPORAL_ADDRESS="+s.Front().Addr)
	},
	"Temporal|a wrong API key": func(s *securedServers) map[string]string {
		return with(s.Front().Env(), "TEMPORAL_API_KEY="+wrongPassword)
	},
	"Temporal|a certificate from an unknown CA": func(s *securedServers) map[string]string {
		return with(s.Front().Env(), "TEMPORAL_TLS_SERVER_CA_CERT_PATH="+s.UnknownCA())
	},
}

// wrongPassword is recognisable: no output may hold it.
const wrongPassword = "Wr0ng-docs-Pa55word"

// Each misconfiguration of the table, provoked against real servers, stops every
// program of its row at once with exit 2, in the row's words, and never shows the
// password it was given.
func TestMisconfigurationsSaidAlike(t *testing.T) {
	stacktest.Needs(t, stacktest.NeedsTemporal, stacktest.NeedsKafka, stacktest.NeedsCassandra, stacktest.NeedsScript)
	rows := misconfigurations(t)
	require.Len(t, rows, 18, "six cases for each of three servers")
	servers := &securedServers{t: t}
	ids := filepath.Join(t.TempDir(), "ids")
	require.NoError(t, os.WriteFile(ids, []byte("00000000-0000-0000-0000-000000000001\n"), 0o644))
	provoked := 0
	for _, r := range rows {
		key := r.server + "|" + r.what
		t.Run(key, func(t *testing.T) {
			provoke, ok := provocations[key]
			if len(r.programs) == 0 {
				require.False(t, ok, "a row provoked here names its programs")
				t.Logf("not provoked: %s", r.says)
				return
			}
			require.True(t, ok, "the test knows how to provoke %q", key)
			env := provoke(servers)
			provoked++
			says := regexp.MustCompile(strings.ReplaceAll(regexp.QuoteMeta(r.says), "…", ".+?"))
			for _, program := range r.programs {
				out, code, took := runProgram(t, program, env, ids)
				assert.Equal(t, 2, code, "%s exits 2: %s", program, out)
				assert.Regexp(t, says, out, "%s says the row's words", program)
				assert.NotContains(t, out, wrongPassword)
				t.Logf("%s: exit %d after %s", program, code, took.Round(100*time.Millisecond))
			}
		})
	}
	t.Logf("%d of %d misconfigurations provoked, each by every program that reads its settings", provoked, len(rows))

	// The secured Kafka's own settings pass the programs' check at start: the starter
	// goes on to ask for the topic (which does not exist).
	out, code, _ := runProgram(t, "starter dlq stats", with(servers.Kafka().Env), ids)
	assert.Equal(t, 1, code, out)
	assert.Contains(t, out, "Unknown Topic Or Partition", "the check passed: %s", out)
}

// runProgram runs a program of a row ("worker", "streaming", "starter dlq stats", …)
// with the local stack's settings, env over them, and returns its output (quotes of
// the log unescaped), its exit code and how long it took.
func runProgram(t *testing.T, program string, env map[string]string, ids string) (string, int, time.Duration) {
	t.Helper()
	args := strings.Fields(program)
	switch program {
	case "starter verify":
		args = append(args, "-ids-file", ids)
	case "starter schedule describe":
		args = append(args, "-schedule-id", "docs-misconfig")
	}
	unique := fmt.Sprintf("docs_misconfig_%d", time.Now().UnixNano())
	base := map[string]string{
		"PATH": os.Getenv("PATH"), "HOME": os.Getenv("HOME"),
		"KAFKA_BROKERS":      strings.Join(stacktest.KafkaBrokers(t), ","),
		"CASSANDRA_HOSTS":    strings.Join(stacktest.CassandraHosts(t), ","),
		"TEMPORAL_ADDRESS":   stacktest.TemporalAddress(t),
		"TEMPORAL_NAMESPACE": stacktest.TemporalNamespace(),
		"KAFKA_TOPIC":        unique, "CASSANDRA_KEYSPACE": "docs_misconfig",
		"TEMPORAL_TASK_QUEUE": unique, "TEMPORAL_SCHEDULE_ID": unique,
		"WORKER_METRICS_ADDR": "off", "STREAMING_METRICS_ADDR": "off",
	}
	var environ []string
	for k, v := range base {
		if _, over := env[k]; !over {
			environ = append(environ, k+"="+v)
		}
	}
	for k, v := range env {
		if v != "" {
			environ = append(environ, k+"="+v)
		}
	}
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, progtest.Program(t, args[0]), args[1:]...)
	cmd.Env = environ
	start := time.Now()
	out, err := cmd.CombinedOutput()
	took := time.Since(start)
	require.NoError(t, ctx.Err(), "%s still runs after a minute, as if it waited out an outage:\n%s", program, out)
	code := 0
	if exit := (*exec.ExitError)(nil); errors.As(err, &exit) {
		code = exit.ExitCode()
	} else {
		require.NoError(t, err)
	}
	return strings.ReplaceAll(string(out), `\"`, `"`), code, took
}
