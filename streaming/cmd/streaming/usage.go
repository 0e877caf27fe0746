package main

import (
	"maps"
	"strings"

	"github.com/streampipe/streampipe/datasets"
	"github.com/streampipe/streampipe/internal/cli"
	"github.com/streampipe/streampipe/internal/envvar"
	"github.com/streampipe/streampipe/internal/kafkasec"
)

// usage is what -h prints. Its variables are those load reads, with the defaults it
// reads them with, when every dataset is served.
func usage() cli.Usage {
	return cli.Usage{
		Command: program + " [-datasets file] [-version]",
		About: `The streaming worker consumes the Kafka topics of the datasets named by
STREAMING_DATASETS (built in, or declared in the file of -datasets or
STREAMING_DATASETS_FILE), each in its own consumer group, and upserts their records
into Cassandra in micro-batches; records it cannot take go to the dataset's
dead-letter topic. At start-up it creates the keyspace, the table and the topics
if missing, waiting up to STREAMING_STARTUP_TIMEOUT for Cassandra and for Kafka.
It serves /metrics and /healthz on STREAMING_METRICS_ADDR, and on SIGINT or
SIGTERM writes and commits the batch in hand before it exits.

Exit codes: 0 stopped on a signal; 1 a failure (the log says which); 2 a bad
command line or configuration (every bad variable is named), or settings a server
refused (TLS or credentials that do not match it: the log names the variables).`,
		Env:     envVars(),
		EnvHelp: envHelp(),
	}
}

// envVars are the variables load reads, in the order it reads them, from an
// environment that sets nothing but STREAMING_DATASETS to every dataset: so that the
// per-dataset variables of each appear. The defaults are those load reads with.
func envVars() []envvar.Var {
	all := strings.Join(datasets.Names(), ",")
	e := envvar.NewReader(func(name string) (string, bool) {
		if name == "STREAMING_DATASETS" {
			return all, true
		}
		return "", false
	})
	_, _ = load(e) // an empty environment is a good one
	return e.Vars()
}

// envHelp says what each variable of envVars means.
func envHelp() map[string]string {
	help := map[string]string{
		"STREAMING_DATASETS": "the datasets to serve, a comma list of " + strings.Join(datasets.Names(), ", ") +
			" and the declared ones; unset: users and every declared one",
		"STREAMING_DATASETS_FILE":    "a file of declared datasets (YAML or JSON; flag -datasets); unset: none",
		"KAFKA_BROKERS":              "Kafka bootstrap brokers, a comma list of host:port",
		"CASSANDRA_HOSTS":            "Cassandra contact points, a comma list of host or host:port",
		"CASSANDRA_USERNAME":         "Cassandra user; unset: no authentication",
		"CASSANDRA_PASSWORD":         "the user's password (never logged)",
		"CASSANDRA_USERNAME_FILE":    "a file holding CASSANDRA_USERNAME instead (a Docker or Kubernetes secret)",
		"CASSANDRA_PASSWORD_FILE":    "a file holding CASSANDRA_PASSWORD instead",
		"CASSANDRA_TLS":              "1: speak TLS to Cassandra, verifying its certificate (client_encryption_options)",
		"CASSANDRA_TLS_CA_FILE":      "PEM file of the CA certificates to trust for Cassandra's; unset: the system's",
		"CASSANDRA_TLS_CERT_FILE":    "PEM client certificate for mutual TLS, with CASSANDRA_TLS_KEY_FILE",
		"CASSANDRA_TLS_KEY_FILE":     "PEM private key of CASSANDRA_TLS_CERT_FILE (never logged)",
		"CASSANDRA_TLS_SERVER_NAME":  "the name Cassandra's certificate must hold; unset: the host dialled",
		"CASSANDRA_LOCAL_DC":         "the data centre to write in (DC-aware routing); unset: any",
		"CASSANDRA_CONSISTENCY":      "write consistency level: ONE, QUORUM, LOCAL_QUORUM, ...",
		"CASSANDRA_REPLICATION":      "CQL replication map of a keyspace the worker creates",
		"STREAMING_ISOLATION":        "read_committed: only the records of committed transactions; read_uncommitted: also those of open and aborted ones",
		"STREAMING_TOMBSTONES":       "delete: a record with a key and a null value deletes its row, where the key names the row (registered_users, declared datasets keyed by key); off: dead-lettered",
		"STREAMING_BATCH_ROWS":       "most records in a micro-batch",
		"STREAMING_BATCH_WAIT":       "longest wait after a batch's first record; 0: write what was fetched while the previous batch was written",
		"STREAMING_CONCURRENCY":      "most Cassandra writes (batches) in flight",
		"STREAMING_GROUP_ROWS":       "most rows in one Cassandra batch, all owned by the same replicas (1: no batches)",
		"STREAMING_GROUP_BYTES":      "most bytes of records in one Cassandra batch; keep it under Cassandra's batch_size_warn_threshold",
		"STREAMING_MAX_RECORD_BYTES": "larger record values (keys, headers) go to the dead-letter topic, cut to 16 KiB as they are fetched",
		"STREAMING_MAX_BUFFER_BYTES": "a dataset's byte budget: most bytes of records it holds between fetch and write; sets the Go memory limit",
		"STREAMING_STARTUP_TIMEOUT":  "how long start-up waits for Cassandra, then for Kafka",
		"STREAMING_DRAIN_TIMEOUT":    "how long a shutdown may take to finish its batch",
		"STREAMING_METRICS_ADDR":     "where /metrics and /healthz are served (:9102: every interface); off: nowhere",
		"STREAMING_LOG_LEVEL":        "debug, info, warn or error; debug logs each batch",
		"LOG_FORMAT":                 cli.LogFormatHelp,
	}
	what := [5]string{"topic", "dead-letter topic (created if missing)", "consumer group",
		"keyspace (created if missing)", "table (created if missing)"}
	for _, name := range datasets.Names() {
		d, _ := datasets.Lookup(name)
		v := d.Vars()
		for i, v := range []string{v.Topic, v.DLQTopic, v.Group, v.Keyspace, v.Table} {
			help[v] = "the " + name + " dataset's " + what[i]
		}
	}
	help["STREAMING_GROUP"] += "; another's is <this>-<dataset>"
	maps.Copy(help, kafkasec.Help)
	return help
}
