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
	"strconv"
	"strings"
	"syscall"
	"time"

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
	var errs []error
	base := streaming.Config{
		Brokers:        list(env("KAFKA_BROKERS", "localhost:9092")),
		Hosts:          list(env("CASSANDRA_HOSTS", "localhost:9042")),
		Username:       os.Getenv("CASSANDRA_USERNAME"),
		Password:       os.Getenv("CASSANDRA_PASSWORD"),
		Consistency:    os.Getenv("CASSANDRA_CONSISTENCY"),
		Replication:    os.Getenv("CASSANDRA_REPLICATION"),
		BatchRows:      number(&errs, "STREAMING_BATCH_ROWS"),
		BatchWait:      duration(&errs, "STREAMING_BATCH_WAIT"),
		Concurrency:    number(&errs, "STREAMING_CONCURRENCY"),
		MaxRecordBytes: number(&errs, "STREAMING_MAX_RECORD_BYTES"),
		StartupTimeout: duration(&errs, "STREAMING_STARTUP_TIMEOUT"),
		DrainTimeout:   duration(&errs, "STREAMING_DRAIN_TIMEOUT"),
	}
	group := env("STREAMING_GROUP", streaming.DefaultGroupID)
	names := list(env("STREAMING_DATASETS", "users"))
	if len(names) == 0 {
		errs = append(errs, errors.New("STREAMING_DATASETS names no dataset"))
	}
	for i, name := range names {
		if slices.Index(names, name) < i {
			errs = append(errs, fmt.Errorf("STREAMING_DATASETS names %s twice", name))
			continue
		}
		w, err := datasetConfig(base, group, name)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		workers = append(workers, w)
	}
	metricsAddr = env("STREAMING_METRICS_ADDR", ":9102")
	if metricsAddr == "off" {
		metricsAddr = ""
	}
	if err := level.UnmarshalText([]byte(env("STREAMING_LOG_LEVEL", "info"))); err != nil {
		errs = append(errs, fmt.Errorf("STREAMING_LOG_LEVEL: %w", err))
	}
	return workers, metricsAddr, level, errors.Join(errs...)
}

// datasetConfig is base for the dataset called name. The users dataset reads
// KAFKA_TOPIC, KAFKA_DLQ_TOPIC, STREAMING_GROUP, CASSANDRA_KEYSPACE and CASSANDRA_TABLE
// as it always did; another dataset reads STREAMING_<NAME>_TOPIC, _DLQ_TOPIC, _GROUP,
// _KEYSPACE and _TABLE, and its group defaults to STREAMING_GROUP-<name>.
func datasetConfig(base streaming.Config, group, name string) (workerConfig, error) {
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
		cfg.Topic = env(vars[0], d.topic)
		cfg.DLQTopic = env(vars[1], d.topic+".dlq")
		cfg.GroupID = env(vars[2], group)
		cfg.Keyspace = env(vars[3], d.keyspace)
		cfg.Table = env(vars[4], d.table)
		return workerConfig{dataset: d.dataset, cfg: cfg}, nil
	}
	known := make([]string, len(datasets))
	for i, d := range datasets {
		known[i] = d.dataset.Name()
	}
	return workerConfig{}, fmt.Errorf("STREAMING_DATASETS: unknown dataset %q: want a comma list of %s", name, strings.Join(known, ", "))
}

func env(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

func list(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// number reads an optional integer variable; unset is 0, the default.
func number(errs *[]error, name string) int {
	v := os.Getenv(name)
	if v == "" {
		return 0
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		*errs = append(*errs, fmt.Errorf("%s=%q: want a whole number", name, v))
	}
	return n
}

// duration reads an optional duration variable such as "50ms"; unset is 0, the default.
func duration(errs *[]error, name string) time.Duration {
	v := os.Getenv(name)
	if v == "" {
		return 0
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		*errs = append(*errs, fmt.Errorf("%s=%q: want a duration such as 50ms or 2m", name, v))
	}
	return d
}
