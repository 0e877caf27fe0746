// Command worker is the Temporal worker of streampipe's producer: it runs the
// UserAutomation workflow and its activities on task queue user-automation, and the
// DLQReplay workflow (`starter dlq replay`), and creates the daily schedule (paused)
// if it does not exist yet.
//
// Configuration comes from the environment (see internal/config; `worker -h` lists
// it). It serves Prometheus metrics on /metrics, the Temporal SDK's among them, and a
// readiness check on /healthz (WORKER_METRICS_ADDR, default 127.0.0.1:9101: this host
// only). It stops on SIGINT or SIGTERM, letting the ticks in flight finish.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"go.temporal.io/sdk/client"
	tlog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/worker"

	"github.com/streampipe/streampipe/activities"
	"github.com/streampipe/streampipe/internal/cli"
	"github.com/streampipe/streampipe/internal/config"
	"github.com/streampipe/streampipe/internal/misconfig"
	"github.com/streampipe/streampipe/internal/opshttp"
	"github.com/streampipe/streampipe/internal/temporalmetrics"
	"github.com/streampipe/streampipe/schedule"
	"github.com/streampipe/streampipe/workflows"
)

var usage = cli.Usage{
	Command: "worker [flags]",
	About: `The Temporal worker of streampipe: runs the UserAutomation workflow and its
activities (fetch users from randomuser.me, or gofakeit when it fails; publish them
to Kafka) on its task queue, and the DLQReplay workflow that 'starter dlq replay'
starts (re-publish dead letters to their source topic), and creates the daily
schedule, paused, if it does not exist. Serves Prometheus metrics on /metrics (its
own and the Temporal SDK's) and a readiness check on /healthz (Temporal and Kafka
reachable). Stops on SIGINT or SIGTERM, letting the ticks in
flight finish. Configuration comes from the environment below.`,
	Env: config.ProducerVars(),
}

func main() {
	os.Exit(runMain(os.Args[1:], os.LookupEnv, os.Stdout, os.Stderr))
}

// runMain runs the program with its arguments and environment and returns its exit
// code.
func runMain(args []string, lookup func(string) (string, bool), stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("worker", flag.ContinueOnError)
	if exit, code := cli.Parse(fs, usage, "worker", args, false, stdout, stderr); exit {
		return code
	}
	cfg, err := config.LoadProducer(lookup)
	if err != nil {
		return cli.BadConfig(stderr, "worker", err)
	}
	logger := cfg.LogFormat.Logger(stderr, cfg.LogLevel)
	for _, w := range cfg.Warnings {
		logger.Warn("unsafe setting: " + w)
	}
	if err := run(cfg, logger); err != nil {
		logger.Error("worker stopped", "error", err)
		return cli.ExitCode(err)
	}
	return cli.ExitOK
}

func run(cfg config.Producer, logger *slog.Logger) (err error) {
	// The signals are watched from the start: one that comes while the worker connects
	// or creates its schedule stops it as surely as one that comes later.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	defer func() {
		if err != nil && ctx.Err() != nil { // what failed was cut short by the signal
			logger.Info("worker stopped on signal while starting", "cut_short", err)
			err = nil
		}
	}()
	dialCtx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	// Kafka settings that cannot work stop the worker at once, in the words every
	// program uses; Kafka not answering does not: runs wait for it.
	if err := cfg.Activities.KafkaSecurity.Check(dialCtx, cfg.Activities.KafkaBrokers); err != nil {
		return err
	}
	// The SDK's metrics go to the registry of the worker's own, served on /metrics.
	reg := opshttp.NewRegistry()
	cfg.TemporalOptions.MetricsHandler = temporalmetrics.New(reg)
	c, err := config.DialTemporal(dialCtx, cfg, tlog.NewStructuredLogger(logger))
	if misconfig.Is(err) {
		return fmt.Errorf("connecting to Temporal at %s, namespace %s: %w", cfg.TemporalAddress, cfg.TemporalNamespace, err)
	}
	if err != nil {
		return fmt.Errorf("connecting to Temporal at %s, namespace %s (is it running? `make stack-up` starts it; "+
			"TEMPORAL_ADDRESS and TEMPORAL_NAMESPACE choose another): %w", cfg.TemporalAddress, cfg.TemporalNamespace, err)
	}
	defer c.Close()

	created, err := schedule.Create(ctx, c, schedule.Options{
		ID:        cfg.ScheduleID,
		TaskQueue: cfg.TaskQueue,
		Input:     workflows.UserAutomationInput{Topic: cfg.KafkaTopic},
	})
	if err != nil {
		return err
	}
	if created {
		logger.Info("schedule created, paused", "schedule", cfg.ScheduleID, "note", schedule.Note(cfg.ScheduleID))
	}

	cfg.Activities.Metrics = activities.NewMetrics(reg)
	acts := activities.New(cfg.Activities, logger)
	if cfg.MetricsAddr != "" {
		srv, err := opshttp.Listen(cfg.MetricsAddr, reg, opshttp.Checks(
			opshttp.Check{What: "temporal (TEMPORAL_ADDRESS)", Check: func(ctx context.Context) error {
				if _, err := c.CheckHealth(ctx, &client.CheckHealthRequest{}); err != nil {
					return fmt.Errorf("temporal at %s (TEMPORAL_ADDRESS): %w", cfg.TemporalAddress,
						config.ExplainTemporal(err, cfg.TemporalOptions))
				}
				return nil
			}},
			opshttp.Check{What: "kafka (KAFKA_BROKERS)", Check: acts.CheckKafka},
		), logger)
		if err != nil {
			return err
		}
		defer srv.Close()
	}

	defer func() {
		if err := acts.Close(); err != nil {
			logger.Warn("closing activities", "error", err)
		}
	}()
	w := worker.New(c, cfg.TaskQueue, worker.Options{
		// A tick in flight at shutdown gets time to finish publishing.
		WorkerStopTimeout: 20 * time.Second,
	})
	w.RegisterWorkflow(workflows.UserAutomation)
	w.RegisterWorkflow(workflows.DLQReplay)
	w.RegisterActivity(acts)
	logger.Info("worker started", "temporal", cfg.TemporalAddress, "namespace", cfg.TemporalNamespace,
		"temporal_tls", cfg.TemporalOptions.ConnectionOptions.TLS != nil, "temporal_api_key", cfg.TemporalOptions.Credentials != nil,
		"task_queue", cfg.TaskQueue, "kafka", cfg.Activities.KafkaBrokers, "kafka_security", cfg.Activities.KafkaSecurity.String(), "randomuser", cfg.Activities.RandomUserURL)
	if err := w.Run(interruptOn(ctx)); err != nil {
		return fmt.Errorf("running worker on task queue %s: %w", cfg.TaskQueue, err)
	}
	logger.Info("worker stopped on signal")
	return nil
}

// interruptOn is the channel worker.Run stops on: closed when ctx is done, a signal
// come before Run included.
func interruptOn(ctx context.Context) <-chan any {
	ch := make(chan any)
	context.AfterFunc(ctx, func() { close(ch) })
	return ch
}
