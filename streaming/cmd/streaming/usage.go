package main

// The streaming worker's table of docs/configuration.md, from the variables'
// declarations in load.
//go:generate go test -run TestConfigurationReference -count=1 . -args -update

import (
	"strings"

	"github.com/streampipe/streampipe/datasets"
	"github.com/streampipe/streampipe/internal/cli"
	"github.com/streampipe/streampipe/internal/envvar"
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
		Env: envVars(),
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
