package main

import (
	"bytes"
	"flag"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/streampipe/streampipe/datasets"
	"github.com/streampipe/streampipe/internal/cli"
	"github.com/streampipe/streampipe/internal/envvar"
	"github.com/streampipe/streampipe/internal/testkit/configref"
	"github.com/streampipe/streampipe/internal/testkit/testcerts"
	"github.com/streampipe/streampipe/streaming"
)

// env is a lookup function reading vars.
func env(vars map[string]string) func(string) (string, bool) {
	return func(name string) (string, bool) {
		v, ok := vars[name]
		return v, ok
	}
}

// where is what a dataset's worker consumes and writes.
type where struct {
	dataset, topic, dlq, group, keyspace, table string
}

func wheres(workers []workerConfig) []where {
	var out []where
	for _, w := range workers {
		c := w.cfg
		out = append(out, where{w.dataset.Name(), c.Topic, c.DLQTopic, c.GroupID, c.Keyspace, c.Table})
	}
	return out
}

func TestDatasetsFromEnv(t *testing.T) {
	users := where{"users", "users_created", "users_created.dlq", "streampipe-streaming", "spark_streaming", "created_users"}
	registered := where{"registered_users", "registered_user_2", "registered_user_2.dlq", "streampipe-streaming-registered_users", "my_keyspace", "user_details_5"}
	transactions := where{"transactions", "incoming_finance_data", "incoming_finance_data.dlq", "streampipe-streaming-transactions", "finance", "transactions"}
	tests := []struct {
		name string
		env  map[string]string
		want []where
	}{
		{"default: users, as before", nil, []where{users}},
		{"all three", map[string]string{"STREAMING_DATASETS": "users, registered_users,transactions"},
			[]where{users, registered, transactions}},
		{"the users variables apply to users only", map[string]string{
			"STREAMING_DATASETS": "transactions,users", "KAFKA_TOPIC": "u", "KAFKA_DLQ_TOPIC": "u.dead",
			"STREAMING_GROUP": "g", "CASSANDRA_KEYSPACE": "ks", "CASSANDRA_TABLE": "tbl",
		}, []where{
			{"transactions", "incoming_finance_data", "incoming_finance_data.dlq", "g-transactions", "finance", "transactions"},
			{"users", "u", "u.dead", "g", "ks", "tbl"},
		}},
		{"a dead-letter topic follows its topic", map[string]string{
			"STREAMING_DATASETS": "users,transactions", "KAFKA_TOPIC": "u", "STREAMING_TRANSACTIONS_TOPIC": "tx",
		}, []where{
			{"users", "u", "u.dlq", "streampipe-streaming", "spark_streaming", "created_users"},
			{"transactions", "tx", "tx.dlq", "streampipe-streaming-transactions", "finance", "transactions"},
		}},
		{"a dataset's own variables", map[string]string{
			"STREAMING_DATASETS": "registered_users", "STREAMING_REGISTERED_USERS_TOPIC": "r",
			"STREAMING_REGISTERED_USERS_DLQ_TOPIC": "r.dead", "STREAMING_REGISTERED_USERS_GROUP": "rg",
			"STREAMING_REGISTERED_USERS_KEYSPACE": "rks", "STREAMING_REGISTERED_USERS_TABLE": "rt",
		}, []where{{"registered_users", "r", "r.dead", "rg", "rks", "rt"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := load(envvar.NewReader(env(tt.env)))
			require.NoError(t, err)
			assert.Equal(t, tt.want, wheres(cfg.workers))
			for _, w := range cfg.workers {
				assert.Equal(t, []string{"localhost:9092"}, w.cfg.Brokers, "shared settings reach every dataset")
				_, err := streaming.New(w.cfg, w.dataset, nil)
				assert.NoError(t, err, "a valid worker configuration")
			}
		})
	}
}

func TestDatasetsFromEnvMistakes(t *testing.T) {
	for value, want := range map[string]string{
		"users,orders":                    `unknown dataset "orders": want a comma list of users, registered_users, transactions`,
		"transactions,users,transactions": "names transactions twice",
		" , ":                             "names no dataset",
	} {
		t.Run(value, func(t *testing.T) {
			_, err := load(envvar.NewReader(env(map[string]string{"STREAMING_DATASETS": value})))
			assert.ErrorContains(t, err, want)
		})
	}
}

// Every value is checked as load reads it, so that one run names every mistake,
// each under its variable, with the value as typed.
func TestEveryMistakeAtOnce(t *testing.T) {
	_, err := load(envvar.NewReader(env(map[string]string{
		"STREAMING_DATASETS":              "users,transactions",
		"STREAMING_BATCH_WAIT":            "x",
		"STREAMING_BATCH_ROWS":            "-5",
		"STREAMING_CONCURRENCY":           "0",
		"CASSANDRA_TABLE":                 "Bad-Name",
		"STREAMING_TRANSACTIONS_KEYSPACE": "1finance",
		"KAFKA_TOPIC":                     "users created",
		"STREAMING_METRICS_ADDR":          "nonsense",
		"KAFKA_BROKERS":                   "localhost",
		"CASSANDRA_HOSTS":                 "http://db",
		"CASSANDRA_CONSISTENCY":           "most",
		"CASSANDRA_REPLICATION":           "SimpleStrategy",
		"STREAMING_ISOLATION":             "serializable",
		"STREAMING_TOMBSTONES":            "on",
		"STREAMING_LOG_LEVEL":             "loud",
		"LOG_FORMAT":                      "logfmt",
		"STREAMING_STARTUP_TIMEOUT":       "-1s",
		"KAFKA_TLS_CA_FILE":               "/nonexistent/ca.pem",
		"KAFKA_SASL_USERNAME":             "streampipe",
	})))
	require.Error(t, err)
	for _, want := range []string{
		`STREAMING_BATCH_WAIT="x": want a duration of 0 or more`,
		`STREAMING_BATCH_ROWS="-5": want a positive whole number`,
		`STREAMING_CONCURRENCY="0": want a positive whole number`,
		`CASSANDRA_TABLE="Bad-Name": want a letter, then letters, digits or _`,
		`STREAMING_TRANSACTIONS_KEYSPACE="1finance": want a letter`,
		`KAFKA_TOPIC="users created": want a Kafka topic name`,
		`STREAMING_METRICS_ADDR="nonsense": want a well-formed listen address`,
		`KAFKA_BROKERS="localhost": want a comma list of host:port`,
		`CASSANDRA_HOSTS="http://db": want a comma list of host or host:port`,
		`CASSANDRA_CONSISTENCY="most": want ONE, QUORUM, LOCAL_QUORUM`,
		`CASSANDRA_REPLICATION="SimpleStrategy": want a CQL map`,
		`STREAMING_ISOLATION="serializable": want read_committed (the default) or read_uncommitted`,
		`STREAMING_TOMBSTONES="on": want delete (the default) or off`,
		`STREAMING_LOG_LEVEL="loud": want debug, info, warn or error`,
		`LOG_FORMAT="logfmt": want text or json`,
		`STREAMING_STARTUP_TIMEOUT="-1s": want a positive duration`,
		`KAFKA_TLS_CA_FILE is set but KAFKA_TLS is not 1`,
		`KAFKA_SASL_MECHANISM="": want PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512: KAFKA_SASL_USERNAME or KAFKA_SASL_PASSWORD is set`,
	} {
		assert.ErrorContains(t, err, want)
	}
	assert.NotContains(t, err.Error(), "bad-name", "the table as typed, not lower-cased")
}

func TestGoodValuesPass(t *testing.T) {
	cfg, err := load(envvar.NewReader(env(map[string]string{
		"KAFKA_BROKERS": "a:9092, b:9093", "CASSANDRA_HOSTS": "c1,c2:9042,[::1]:9042",
		"CASSANDRA_TABLE": "Created_Users", "CASSANDRA_CONSISTENCY": "one", "STREAMING_METRICS_ADDR": "off",
		"STREAMING_BATCH_WAIT": "10ms", "STREAMING_LOG_LEVEL": "debug",
	})))
	require.NoError(t, err)
	assert.Empty(t, cfg.metricsAddr, "off serves nothing")
	c := cfg.workers[0].cfg
	assert.Equal(t, []string{"a:9092", "b:9093"}, c.Brokers)
	assert.Equal(t, "KAFKA_BROKERS", c.BrokersFrom)
	assert.Equal(t, "CASSANDRA_HOSTS", c.HostsFrom)
	assert.Equal(t, 10*time.Millisecond, c.BatchWait)
	_, err = streaming.New(c, cfg.workers[0].dataset, nil)
	assert.NoError(t, err)
}

// -h lists every variable load reads, each with its meaning, and nothing else; the
// defaults are the ones the worker uses.
func TestUsageListsEveryVariableRead(t *testing.T) {
	var out bytes.Buffer
	exit, code := cli.Parse(flag.NewFlagSet(program, flag.ContinueOnError), usage(), program, []string{"-h"}, false, &out, io.Discard)
	require.True(t, exit)
	require.Equal(t, cli.ExitOK, code)
	listed := map[string]string{} // name → the rest of its line, and its meaning
	_, env, ok := strings.Cut(out.String(), "\nEnvironment")
	require.True(t, ok, "-h has an Environment section:\n%s", out.String())
	var name string
	for _, line := range strings.Split(env, "\n")[1:] {
		if meaning, ok := strings.CutPrefix(line, "    \t"); ok {
			listed[name] += "\t" + meaning
		} else if n, rest, ok := strings.Cut(strings.TrimSpace(line), " "); ok {
			name, listed[n] = n, rest
		}
	}

	// Every variable load reads when it serves every dataset.
	all := map[string]string{"STREAMING_DATASETS": strings.Join(datasets.Names(), ",")}
	read := envvar.NewReader(func(name string) (string, bool) {
		if v, ok := all[name]; ok {
			return v, true
		}
		return "", false
	})
	_, err := load(read)
	require.NoError(t, err)
	for _, v := range read.Vars() {
		assert.NotEmpty(t, v.Help, "load reads %s without a meaning", v.Name)
		assert.Contains(t, listed[v.Name], ")\t", "-h lists %s with its meaning", v.Name)
	}
	names := map[string]bool{}
	for _, v := range usage().Env {
		names[v.Name] = true
	}
	for name := range listed {
		assert.True(t, names[name], "-h lists %s, which load does not read", name)
	}
	for _, name := range datasets.Names() {
		d, _ := datasets.Lookup(name)
		v := d.Vars()
		for _, v := range []string{v.Topic, v.DLQTopic, v.Group, v.Keyspace, v.Table} {
			assert.Contains(t, listed, v, "dataset %s", name)
		}
	}
	for name, def := range map[string]string{
		"STREAMING_BATCH_ROWS": "1000", "STREAMING_BATCH_WAIT": "0s", "STREAMING_CONCURRENCY": "96", "STREAMING_GROUP_ROWS": "25", "STREAMING_GROUP_BYTES": "5120",
		"STREAMING_MAX_RECORD_BYTES": "1048576", "STREAMING_STARTUP_TIMEOUT": "2m0s", "STREAMING_DRAIN_TIMEOUT": "30s",
		"CASSANDRA_CONSISTENCY": "LOCAL_QUORUM", "KAFKA_BROKERS": "localhost:9092", "STREAMING_METRICS_ADDR": "127.0.0.1:9102",
		"STREAMING_TRANSACTIONS_GROUP": "streampipe-streaming-transactions",
	} {
		assert.Contains(t, listed[name], "(default "+def+")", name)
	}
}

// docs/configuration.md's table of the streaming worker's variables is the one it
// declares (`go generate ./...` writes it).
func TestConfigurationReference(t *testing.T) {
	configref.Check(t, "streaming", usage().Env)
}

// Declared datasets come from STREAMING_DATASETS_FILE (or -datasets) and are served
// when STREAMING_DATASETS names them, with the same variables as a built-in one.
func TestDeclaredDatasetsFromFile(t *testing.T) {
	const example = "../../../docs/examples/declared-users.yaml"
	cfg, err := load(envvar.NewReader(env(map[string]string{
		"STREAMING_DATASETS_FILE": example, "STREAMING_DATASETS": "users,users_declared",
		"STREAMING_USERS_DECLARED_TABLE": "mine",
	})))
	require.NoError(t, err)
	assert.Equal(t, []where{
		{"users", "users_created", "users_created.dlq", "streampipe-streaming", "spark_streaming", "created_users"},
		{"users_declared", "users_created", "users_created.declared.dlq", "streampipe-streaming-users_declared", "spark_streaming", "mine"},
	}, wheres(cfg.workers))

	// Without STREAMING_DATASETS, the file's datasets are served beside users: what
	// `streaming -datasets file` promises (docs/declared-datasets.md).
	cfg, err = load(envvar.NewReader(env(map[string]string{"STREAMING_DATASETS_FILE": example})))
	require.NoError(t, err)
	assert.Equal(t, []string{"users", "users_declared"}, []string{cfg.workers[0].dataset.Name(), cfg.workers[1].dataset.Name()})

	_, err = load(envvar.NewReader(env(map[string]string{"STREAMING_DATASETS_FILE": example, "STREAMING_DATASETS": "orders"})))
	assert.ErrorContains(t, err, `unknown dataset "orders": want a comma list of users, registered_users, transactions, users_declared`)

	bad := filepath.Join(t.TempDir(), "bad.yaml")
	require.NoError(t, os.WriteFile(bad, []byte("datasets:\n  - name: x\n    topic: t\n    columns: []\n"), 0o644))
	var stderr bytes.Buffer
	code := realMain([]string{"-datasets", bad}, env(map[string]string{"STREAMING_DATASETS": "x"}), io.Discard, &stderr)
	assert.Equal(t, cli.ExitUsage, code)
	for _, want := range []string{"STREAMING_DATASETS_FILE=" + bad, bad + ":2: dataset x: no table", bad + ":2: dataset x: no columns",
		bad + ":2: dataset x: no primary_key", `unknown dataset "x"`} {
		assert.Contains(t, stderr.String(), want)
	}
}

// Cassandra's TLS files are read before anything connects: a missing one, or a
// certificate without its key, stops the worker with exit 2, each named by its
// variable; good ones reach the worker's configuration with the local data centre.
func TestCassandraSecuritySettings(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "ca.pem")
	var stderr bytes.Buffer
	code := realMain(nil, env(map[string]string{
		"CASSANDRA_TLS": "1", "CASSANDRA_TLS_CA_FILE": missing, "CASSANDRA_TLS_CERT_FILE": missing,
	}), io.Discard, &stderr)
	assert.Equal(t, cli.ExitUsage, code)
	assert.Contains(t, stderr.String(), `CASSANDRA_TLS_CA_FILE="`+missing+`": cannot read the file: no such file or directory`)
	assert.Contains(t, stderr.String(), "CASSANDRA_TLS_CERT_FILE is set but CASSANDRA_TLS_KEY_FILE is not")

	cert, key := testcerts.SelfSignedCA(t, "client")
	cfg, err := load(envvar.NewReader(env(map[string]string{
		"CASSANDRA_TLS": "1", "CASSANDRA_TLS_CA_FILE": cert, "CASSANDRA_TLS_CERT_FILE": cert, "CASSANDRA_TLS_KEY_FILE": key,
		"CASSANDRA_TLS_SERVER_NAME": "db.example.com", "CASSANDRA_LOCAL_DC": "dc-east",
	})))
	require.NoError(t, err)
	c := cfg.workers[0].cfg
	require.NotNil(t, c.TLS)
	assert.Equal(t, "db.example.com", c.TLS.ServerName)
	assert.Len(t, c.TLS.Certificates, 1)
	assert.Equal(t, "dc-east", c.LocalDC)
}
