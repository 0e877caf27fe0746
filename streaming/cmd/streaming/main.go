// Command streaming is the streaming worker: it consumes the users_created topic in
// consumer group streampipe-streaming and upserts each user into Cassandra.
// Configuration comes from the environment; see the README.
package main

import (
	"context"
	"errors"
	"fmt"
	"log"
	"log/slog"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/streampipe/streampipe/internal/opshttp"
	"github.com/streampipe/streampipe/streaming"
)

func main() {
	cfg, metricsAddr, level, err := configFromEnv()
	if err != nil {
		log.Fatal(err)
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	slog.SetDefault(logger)
	cfg.Logger = logger
	if err := run(cfg, metricsAddr); err != nil {
		logger.Error("streaming worker stopped", "err", err)
		os.Exit(1)
	}
}

func run(cfg streaming.Config, metricsAddr string) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	reg := opshttp.NewRegistry()
	w, err := streaming.New(cfg, streaming.Users{}, streaming.NewMetrics(reg))
	if err != nil {
		return err
	}
	if metricsAddr != "" {
		srv, err := opshttp.Listen(metricsAddr, reg, func(context.Context) error {
			if !w.Ready() {
				return fmt.Errorf("%s: not consuming, or its last write failed", w.Name())
			}
			return nil
		}, cfg.Logger)
		if err != nil {
			return err
		}
		defer srv.Close()
	}
	return w.Run(ctx)
}

// configFromEnv reads the environment: the variables of DESIGN.md and STREAMING_*.
func configFromEnv() (cfg streaming.Config, metricsAddr string, level slog.Level, err error) {
	var errs []error
	cfg = streaming.Config{
		Brokers:        list(env("KAFKA_BROKERS", "localhost:9092")),
		Topic:          env("KAFKA_TOPIC", "users_created"),
		DLQTopic:       env("KAFKA_DLQ_TOPIC", "users_created.dlq"),
		GroupID:        env("STREAMING_GROUP", streaming.DefaultGroupID),
		Hosts:          list(env("CASSANDRA_HOSTS", "localhost:9042")),
		Keyspace:       env("CASSANDRA_KEYSPACE", "spark_streaming"),
		Table:          env("CASSANDRA_TABLE", "created_users"),
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
	metricsAddr = env("STREAMING_METRICS_ADDR", ":9102")
	if metricsAddr == "off" {
		metricsAddr = ""
	}
	if err := level.UnmarshalText([]byte(env("STREAMING_LOG_LEVEL", "info"))); err != nil {
		errs = append(errs, fmt.Errorf("STREAMING_LOG_LEVEL: %w", err))
	}
	return cfg, metricsAddr, level, errors.Join(errs...)
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
