package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/streampipe/streampipe/datasets"
	"github.com/streampipe/streampipe/internal/config"
	"github.com/streampipe/streampipe/internal/envvar"
	"github.com/streampipe/streampipe/internal/testkit/kafkatest"
	"github.com/streampipe/streampipe/internal/testkit/stacktest"
	"github.com/streampipe/streampipe/streaming"
	"github.com/streampipe/streampipe/workflows"
)

// Each built-in dataset, driven as `make run` drives it: `starter run -dataset D
// -ids-file F` through a worker of the test's own, the dataset's streaming worker
// (its row mapping, into a table of the test's own), then `starter verify -dataset
// D -ids-file F`, which finds every id as a row. The progress and the result speak
// of the dataset's records.
func TestEveryDatasetThroughRunAndVerify(t *testing.T) {
	stacktest.Needs(t, stacktest.NeedsTemporal, stacktest.NeedsKafka, stacktest.NeedsCassandra)
	cfg := startWorker(t)
	hosts := stacktest.CassandraHosts(t)
	user, password := stacktest.CassandraCredentials()
	cfg.Cassandra = config.Cassandra{Cassandra: envvar.Cassandra{Hosts: hosts, Username: user, Password: password},
		Tables: map[string]config.Table{}}
	metrics := streaming.NewMetrics(prometheus.NewRegistry())
	for _, name := range datasets.Names() {
		t.Run(name, func(t *testing.T) {
			ds, _ := datasets.Lookup(name)
			topic := cfg.TaskQueue + "-" + name
			table := config.Table{Keyspace: "starter_it", Table: strings.ReplaceAll("t_"+topic[len("test-starter-"):], "-", "_")}
			cfg.Cassandra.Tables[name] = table
			w, err := streaming.New(streaming.Config{
				Brokers: stacktest.KafkaBrokers(t), Topic: topic, GroupID: topic, Hosts: hosts,
				Keyspace: table.Keyspace, Table: table.Table, Username: user, Password: password,
				StartupTimeout: time.Minute, Logger: slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn})),
			}, ds.Rows, metrics)
			require.NoError(t, err)
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			streamCtx, stop := context.WithCancel(ctx)
			stopped := make(chan error, 1)
			go func() { stopped <- w.Run(streamCtx) }()
			defer func() { stop(); <-stopped }()

			var stdout, stderr bytes.Buffer
			idsFile := filepath.Join(t.TempDir(), "ids")
			id := topic
			err = dispatch(ctx, []string{"run", "-dataset", name, "-id", id, "-duration", "2s", "-interval", "1s",
				"-topic", topic, "-ids-file", idsFile}, cfg, nil, &stdout, &stderr)
			require.NoError(t, err, stderr.String())
			var res workflows.UserAutomationResult
			require.NoError(t, json.Unmarshal(stdout.Bytes(), &res))
			assert.Equal(t, name, res.Dataset)
			assert.Equal(t, 2*ds.PerTick, res.RecordsPublished)
			assert.Contains(t, stderr.String(), fmt.Sprintf("2/2 ticks · %d %s", 2*ds.PerTick, ds.RecordsNoun()))

			ids, err := os.ReadFile(idsFile)
			require.NoError(t, err)
			msgs, _ := kafkatest.ReadAll(ctx, t, stacktest.KafkaBrokers(t), topic)
			var onTopic []string
			for _, m := range msgs {
				onTopic = append(onTopic, string(m.Key))
			}
			assert.ElementsMatch(t, onTopic, strings.Fields(string(ids)), "the ids file names the records on the topic")

			stdout.Reset()
			require.NoError(t, dispatch(ctx, []string{"verify", "-dataset", name, "-ids-file", idsFile, "-timeout", "1m"},
				cfg, nil, &stdout, &stderr), stderr.String())
			tbl := cfg.Cassandra.Tables[name]
			assert.Equal(t, fmt.Sprintf("Rows in Cassandra for this run: %d of %d %s published.\n"+
				"Their table: %[4]s.%[5]s (make cqlsh, then: SELECT count(*) FROM %[4]s.%[5]s;)\n",
				2*ds.PerTick, 2*ds.PerTick, ds.RecordsNoun(), tbl.Keyspace, tbl.Table), stdout.String())
		})
	}
}
