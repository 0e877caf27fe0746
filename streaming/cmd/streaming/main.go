// Command streaming is the streaming worker: it consumes the topics of the datasets
// named by STREAMING_DATASETS (default users: users_created, in consumer group
// streampipe-streaming) and upserts their records into Cassandra, one worker per
// dataset in this one process. Configuration comes from the environment;
// `streaming -h` lists every variable with its default.
package main

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"os/signal"
	"runtime/debug"
	"slices"
	"strings"
	"syscall"

	"github.com/streampipe/streampipe/datasets"
	"github.com/streampipe/streampipe/internal/cli"
	"github.com/streampipe/streampipe/internal/envvar"
	"github.com/streampipe/streampipe/internal/kafkasec"
	"github.com/streampipe/streampipe/internal/opshttp"
	"github.com/streampipe/streampipe/rows"
	"github.com/streampipe/streampipe/streaming"
)

const program = "streaming"

func main() {
	os.Exit(realMain(os.Args[1:], os.LookupEnv, os.Stdout, os.Stderr))
}

// realMain is the program: it parses args, reads the configuration through lookup and
// runs the workers, and returns the exit code. Nothing connects anywhere before the
// command line and the whole configuration are found good.
func realMain(args []string, lookup func(string) (string, bool), stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet(program, flag.ContinueOnError)
	file := fs.String("datasets", "", "a `file` of declared datasets (YAML or JSON); overrides STREAMING_DATASETS_FILE")
	if exit, code := cli.Parse(fs, usage(), program, args, false, stdout, stderr); exit {
		return code
	}
	if *file != "" {
		env := lookup
		lookup = func(name string) (string, bool) {
			if name == "STREAMING_DATASETS_FILE" {
				return *file, true
			}
			return env(name)
		}
	}
	cfg, err := load(envvar.NewReader(lookup))
	if err != nil {
		return cli.BadConfig(stderr, program, err)
	}
	logger := cfg.logFormat.Logger(stderr, cfg.level)
	slog.SetDefault(logger)
	for _, w := range cfg.warnings {
		logger.Warn("unsafe setting: " + w)
	}
	for i := range cfg.workers {
		cfg.workers[i].cfg.Logger = logger
	}
	if err := run(cfg, logger); err != nil {
		logger.Error("streaming worker stopped", "err", err)
		return cli.ExitCode(err)
	}
	return cli.ExitOK
}

func run(cfg config, logger *slog.Logger) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	reg := opshttp.NewRegistry()
	metrics := streaming.NewMetrics(reg)
	workers := make([]*streaming.Worker, len(cfg.workers))
	for i, c := range cfg.workers {
		w, err := streaming.New(c.cfg, c.dataset, metrics)
		if err != nil {
			return fmt.Errorf("dataset %s: %w", c.dataset.Name(), err)
		}
		workers[i] = w
	}
	setMemoryLimit(workers, logger)
	group := streaming.NewGroup(workers...)
	if cfg.metricsAddr != "" {
		srv, err := opshttp.Listen(cfg.metricsAddr, reg, func(context.Context) error { return group.Ready() }, logger)
		if err != nil {
			return fmt.Errorf("STREAMING_METRICS_ADDR=%s: %w; stop that program, or set STREAMING_METRICS_ADDR "+
				"to another address (or off)", cfg.metricsAddr, err)
		}
		defer srv.Close()
	}
	return group.Run(ctx)
}

// runtimeBytes is about what the heap holds besides the workers' records: the Kafka
// and Cassandra clients (the batches in flight), the metrics server. 16 MiB, rather
// than 24, keeps a draining worker's peak RSS under 50 MB (47 against 55 MB) at the
// same rows/s (docs/performance.md): the heap grows to the limit under load.
const runtimeBytes = 16 << 20

// setMemoryLimit sets the Go runtime's soft memory limit, unless GOMEMLIMIT did, to
// what the workers' records may take plus the runtime's own: the collector then
// runs as the heap nears the bound rather than once it has doubled. It bounds
// nothing by itself: the workers' byte budgets do.
func setMemoryLimit(workers []*streaming.Worker, logger *slog.Logger) {
	if debug.SetMemoryLimit(-1) != math.MaxInt64 {
		return // GOMEMLIMIT set it
	}
	limit := runtimeBytes
	for _, w := range workers {
		limit += w.MemoryBound()
	}
	debug.SetMemoryLimit(int64(limit))
	logger.Debug("go memory limit set from the byte budgets", "bytes", limit)
}

// config is the whole configuration: one worker per dataset served, and the process's
// own settings.
type config struct {
	workers     []workerConfig
	metricsAddr string // "" serves nothing
	level       slog.Level
	logFormat   cli.LogFormat
	// warnings are the unsafe settings taken, logged at every start.
	warnings []string
}

// workerConfig is one dataset's worker.
type workerConfig struct {
	dataset rows.Mapping
	cfg     streaming.Config
}

// load reads the configuration through e and checks every value, so that its error
// names each variable that is wrong, with the value as typed and what is wanted. The
// variables are those of docs/configuration.md: STREAMING_* and, for each dataset
// of STREAMING_DATASETS, the names datasets.Dataset.Vars gives. The order of the
// reads is the order -h lists them in.
func load(e *envvar.Reader) (config, error) {
	var cfg config
	var errs []error // what is wrong with STREAMING_DATASETS and the declared datasets
	declared := map[string]datasets.Dataset{}
	served := []string{datasets.NameUsers} // unset STREAMING_DATASETS: users and every declared one
	if file := e.Str("STREAMING_DATASETS_FILE", "", "a file of declared datasets, YAML or JSON ([declared-datasets.md](declared-datasets.md)); "+
		"the flag `-datasets` overrides it; unset: none"); file != "" {
		ds, err := datasets.LoadFile(file)
		if err != nil {
			errs = append(errs, fmt.Errorf("STREAMING_DATASETS_FILE=%s: %w", file, err))
		}
		for _, d := range ds {
			declared[d.Name] = d
			served = append(served, d.Name)
		}
	}
	names := e.List("STREAMING_DATASETS", strings.Join(served, ","), "the datasets to serve, a comma list of "+strings.Join(datasets.Names(), ", ")+
		" and the declared ones; unset: users and every dataset the file declares (the local and compose stacks set the three built-in ones)")
	if len(names) == 0 {
		errs = append(errs, errors.New("STREAMING_DATASETS names no dataset"))
	}
	kafka, cassandra := kafkasec.ReadKafka(e), e.Cassandra()
	base := streaming.Config{
		Brokers:     kafka.Brokers,
		BrokersFrom: kafkasec.BrokersVar,
		Security:    kafka.Security,
		Hosts:       cassandra.Hosts,
		HostsFrom:   "CASSANDRA_HOSTS",
		Username:    cassandra.Username,
		Password:    cassandra.Password,
		TLS:         cassandra.TLS,
		LocalDC:     cassandra.LocalDC,
		Consistency: e.Checked("CASSANDRA_CONSISTENCY", streaming.DefaultConsistency, streaming.CheckConsistency,
			"write consistency level: ONE, QUORUM, LOCAL_QUORUM, …"),
		Replication: e.Checked("CASSANDRA_REPLICATION", streaming.DefaultReplication, streaming.CheckReplication,
			"CQL replication map of a keyspace the worker creates"),

		ReadUncommitted: e.Checked("STREAMING_ISOLATION", streaming.ReadCommitted, streaming.CheckIsolation,
			"read_committed: only the records of committed transactions; read_uncommitted: also those of open and aborted ones. "+
				"Transaction markers never become rows or dead letters") == streaming.ReadUncommitted,
		KeepTombstones: e.Checked("STREAMING_TOMBSTONES", streaming.TombstonesDelete, streaming.CheckTombstones,
			"delete: a record with a key and a null value (a tombstone) deletes its row, at the record's write time, where the key names the row "+
				"(registered_users, declared datasets whose key is `from: key`); off: dead-lettered") == streaming.TombstonesOff,

		BatchRows: e.Positive("STREAMING_BATCH_ROWS", streaming.DefaultBatchRows, "most records in a micro-batch"),
		BatchWait: e.Wait("STREAMING_BATCH_WAIT", streaming.DefaultBatchWait,
			"longest wait after a batch's first record; 0: a batch is what was fetched while the previous one was written, written at once"),
		Concurrency: e.Positive("STREAMING_CONCURRENCY", streaming.DefaultConcurrency, "most Cassandra writes (batches) in flight, per dataset"),
		GroupRows: e.Positive("STREAMING_GROUP_ROWS", streaming.DefaultGroupRows,
			"most rows in one unlogged Cassandra batch; a batch only holds rows owned by the same replicas (1: every row alone)"),
		GroupBytes: e.Positive("STREAMING_GROUP_BYTES", streaming.DefaultGroupBytes,
			"most bytes of records (keys, values, headers) in one Cassandra batch: under Cassandra's `batch_size_warn_threshold` (5 KiB by default), "+
				"over which it logs a warning for every batch; raise both together"),
		MaxRecordBytes: e.Positive("STREAMING_MAX_RECORD_BYTES", streaming.DefaultMaxRecordBytes,
			"larger record values (keys, headers) go to the dead-letter topic, cut to their first 16 KiB as they are fetched (`dlq.truncated: true`)"),
		MaxBufferBytes: e.Positive("STREAMING_MAX_BUFFER_BYTES", streaming.DefaultMaxBufferBytes,
			"a dataset's byte budget: most bytes of records it holds between fetch and write (plus a quarter for the Kafka reader's queue, "+
				"an eighth for a fetch response); the Go memory limit is set from it unless `GOMEMLIMIT` is"),
		StartupTimeout: e.Duration("STREAMING_STARTUP_TIMEOUT", streaming.DefaultStartupTimeout, "how long start-up waits for Cassandra, then for Kafka"),
		DrainTimeout:   e.Duration("STREAMING_DRAIN_TIMEOUT", streaming.DefaultDrainTimeout, "how long a shutdown may take to write and commit its batch"),
	}
	cfg.metricsAddr = e.ListenAddr("STREAMING_METRICS_ADDR", "127.0.0.1:9102", "where /metrics and /healthz are served: this host only by default, "+
		"`:9102` for every interface (see [Operations endpoints](#operations-endpoints)); `off`: nowhere")
	if s := e.Str("STREAMING_LOG_LEVEL", "info", "debug, info, warn or error; debug logs each batch"); cfg.level.UnmarshalText([]byte(s)) != nil {
		e.Fail("STREAMING_LOG_LEVEL", s, "debug, info, warn or error")
	}
	cfg.logFormat = cli.ReadLogFormat(e)
	cfg.warnings = e.Warnings()
	group := e.Str("STREAMING_GROUP", streaming.DefaultGroupID, datasets.Users.Meanings().Group)
	for i, name := range names {
		if slices.Index(names, name) < i {
			errs = append(errs, fmt.Errorf("STREAMING_DATASETS names %s twice", name))
			continue
		}
		d, ok := datasets.Lookup(name)
		if !ok {
			d, ok = declared[name]
		}
		if ok && name != "" {
			cfg.workers = append(cfg.workers, datasetConfig(e, base, group, d))
		} else {
			known := datasets.Names()
			for n := range declared {
				known = append(known, n)
			}
			slices.Sort(known[len(datasets.Names()):])
			errs = append(errs, fmt.Errorf("STREAMING_DATASETS: unknown dataset %q: want a comma list of %s",
				name, strings.Join(known, ", ")))
		}
	}
	return cfg, errors.Join(append(errs, e.Err())...)
}

// datasetConfig is base for dataset d, built in or declared: its topic,
// dead-letter topic, group, keyspace and table default to the dataset's, each read
// from its variable (datasets.Dataset.Vars); the dead-letter topic of a topic moved
// elsewhere follows it. The group of a dataset but users defaults to
// STREAMING_GROUP-<name>.
func datasetConfig(e *envvar.Reader, base streaming.Config, group string, d datasets.Dataset) workerConfig {
	vars, means := d.Vars(), d.Meanings()
	cfg := base
	cfg.Topic = e.Checked(vars.Topic, d.Topic, rows.CheckTopic, means.Topic)
	cfg.DLQTopic = e.Checked(vars.DLQTopic, cmp.Or(d.DLQTopic, rows.DeadLetterTopic(cfg.Topic)), rows.CheckTopic, means.DLQTopic)
	cfg.GroupID = e.Str(vars.Group, d.Group(group), means.Group)
	cfg.Keyspace, cfg.Table = d.ReadTable(e)
	return workerConfig{dataset: d.Rows, cfg: cfg}
}
