// Command streaming is the streaming worker: it consumes the topics of the datasets
// named by STREAMING_DATASETS (default users: users_created, in consumer group
// streampipe-streaming) and upserts their records into Cassandra, one worker per
// dataset in this one process. Configuration comes from the environment; see the
// README.
package main

import (
	"context"
	"errors"
	"fmt"
	"log"
	"log/slog"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"

	"github.com/streampipe/streampipe/internal/envvar"
	"github.com/streampipe/streampipe/internal/opshttp"
	"github.com/streampipe/streampipe/streaming"
)

func main() {
	workers, metricsAddr, level, err := configFromEnv()
	if err != nil {
		log.Fatal(err)
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	slog.SetDefault(logger)
	for i := range workers {
		workers[i].cfg.Logger = logger
	}
	if err := run(workers, metricsAddr, logger); err != nil {
		logger.Error("streaming worker stopped", "err", err)
		os.Exit(1)
	}
}

// workerConfig is one dataset's worker.
type workerConfig struct {
	dataset streaming.Dataset
	cfg     streaming.Config
}

func run(configs []workerConfig, metricsAddr string, logger *slog.Logger) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	reg := opshttp.NewRegistry()
	metrics := streaming.NewMetrics(reg)
	workers := make([]*streaming.Worker, len(configs))
	for i, c := range configs {
		w, err := streaming.New(c.cfg, c.dataset, metrics)
		if err != nil {
			return fmt.Errorf("dataset %s: %w", c.dataset.Name(), err)
		}
		workers[i] = w
	}
	group := streaming.NewGroup(workers...)
	if metricsAddr != "" {
		srv, err := opshttp.Listen(metricsAddr, reg, func(context.Context) error { return group.Ready() }, logger)
		if err != nil {
			return err
		}
		defer srv.Close()
	}
	return group.Run(ctx)
}

// datasets are the datasets the worker serves, with the defaults of their topic,
// keyspace and table: the seed pipelines' names.
var datasets = []struct {
	dataset                streaming.Dataset
	topic, keyspace, table string
}{
	{streaming.Users{}, "users_created", "spark_streaming", "created_users"},
	{streaming.RegisteredUsers{}, "registered_user_2", "my_keyspace", "user_details_5"},
	{streaming.Transactions{}, "incoming_finance_data", "finance", "transactions"},
}

// configFromEnv reads the environment: the variables of DESIGN.md, STREAMING_* and,
// for each dataset of STREAMING_DATASETS but users, STREAMING_<DATASET>_*.
func configFromEnv() (workers []workerConfig, metricsAddr string, level slog.Level, err error) {
	e := envvar.NewReader(os.LookupEnv)
	base := streaming.Config{
		Brokers:     e.List("KAFKA_BROKERS", "localhost:9092"),
		Hosts:       e.List("CASSANDRA_HOSTS", "localhost:9042"),
		Username:    e.Verbatim("CASSANDRA_USERNAME"),
		Password:    e.Verbatim("CASSANDRA_PASSWORD"),
		Consistency: e.Str("CASSANDRA_CONSISTENCY", ""),
		Replication: e.Str("CASSANDRA_REPLICATION", ""),
		// Unset is 0: the streaming package's default.
		BatchRows:      e.OptionalInt("STREAMING_BATCH_ROWS"),
		BatchWait:      e.OptionalDuration("STREAMING_BATCH_WAIT"),
		Concurrency:    e.OptionalInt("STREAMING_CONCURRENCY"),
		MaxRecordBytes: e.OptionalInt("STREAMING_MAX_RECORD_BYTES"),
		StartupTimeout: e.OptionalDuration("STREAMING_STARTUP_TIMEOUT"),
		DrainTimeout:   e.OptionalDuration("STREAMING_DRAIN_TIMEOUT"),
	}
	group := e.Str("STREAMING_GROUP", streaming.DefaultGroupID)
	var errs []error // what is wrong with STREAMING_DATASETS
	names := e.List("STREAMING_DATASETS", "users")
	if len(names) == 0 {
		errs = append(errs, errors.New("STREAMING_DATASETS names no dataset"))
	}
	for i, name := range names {
		if slices.Index(names, name) < i {
			errs = append(errs, fmt.Errorf("STREAMING_DATASETS names %s twice", name))
			continue
		}
		if w, ok := datasetConfig(e, base, group, name); ok {
			workers = append(workers, w)
		} else {
			errs = append(errs, fmt.Errorf("STREAMING_DATASETS: unknown dataset %q: want a comma list of %s",
				name, strings.Join(datasetNames(), ", ")))
		}
	}
	if metricsAddr = e.Str("STREAMING_METRICS_ADDR", ":9102"); metricsAddr == "off" {
		metricsAddr = ""
	}
	if s := e.Str("STREAMING_LOG_LEVEL", "info"); level.UnmarshalText([]byte(s)) != nil {
		e.Fail("STREAMING_LOG_LEVEL", s, "debug, info, warn or error")
	}
	return workers, metricsAddr, level, errors.Join(append(errs, e.Err())...)
}

// datasetConfig is base for the dataset called name, false if there is none. The
// users dataset reads KAFKA_TOPIC, KAFKA_DLQ_TOPIC, STREAMING_GROUP, CASSANDRA_KEYSPACE
// and CASSANDRA_TABLE as it always did; another dataset reads STREAMING_<NAME>_TOPIC,
// _DLQ_TOPIC, _GROUP, _KEYSPACE and _TABLE, and its group defaults to
// STREAMING_GROUP-<name>.
func datasetConfig(e *envvar.Reader, base streaming.Config, group, name string) (workerConfig, bool) {
	for _, d := range datasets {
		if d.dataset.Name() != name {
			continue
		}
		vars := [5]string{"KAFKA_TOPIC", "KAFKA_DLQ_TOPIC", "STREAMING_GROUP", "CASSANDRA_KEYSPACE", "CASSANDRA_TABLE"}
		if name != "users" {
			prefix := "STREAMING_" + strings.ToUpper(name) + "_"
			vars = [5]string{prefix + "TOPIC", prefix + "DLQ_TOPIC", prefix + "GROUP", prefix + "KEYSPACE", prefix + "TABLE"}
			group += "-" + name
		}
		cfg := base
		cfg.Topic = e.Str(vars[0], d.topic)
		cfg.DLQTopic = e.Str(vars[1], d.topic+".dlq")
		cfg.GroupID = e.Str(vars[2], group)
		cfg.Keyspace = e.Str(vars[3], d.keyspace)
		cfg.Table = e.Str(vars[4], d.table)
		return workerConfig{dataset: d.dataset, cfg: cfg}, true
	}
	return workerConfig{}, false
}

func datasetNames() []string {
	names := make([]string, len(datasets))
	for i, d := range datasets {
		names[i] = d.dataset.Name()
	}
	return names
}
