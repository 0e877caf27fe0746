package streaming

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/streampipe/streampipe/internal/kafkasec"
	"github.com/streampipe/streampipe/rows"
	"github.com/streampipe/streampipe/streaming/fetchcut"
)

// Worker consumes one dataset's topic in a consumer group and writes its table.
type Worker struct {
	cfg     Config
	dataset rows.Mapping
	metrics *Metrics
	log     *slog.Logger
	ready   atomic.Bool
	waiting atomic.Pointer[status] // what start-up waits for; nil when it does not

	// What the worker waits for after start-up: each outage is logged once and named
	// on /healthz.
	kafka     *outage // the brokers: fetches and commits
	cassandra *outage // writes of rows
	dlqTopic  *outage // writes of dead letters

	bounds *fetchcut.Bounds // of what the reader fetches
	// keyColumns are the places of the primary key in a row: a tombstone's delete
	// binds them, and a micro-batch supersedes rows by them.
	keyColumns []int
	// supersedes: a later record of a batch overwrites an earlier one of its key in
	// the same millisecond (Kafka write times); not where the values' times decide.
	supersedes bool
}

// New checks cfg and returns a Worker for dataset that reports to metrics.
func New(cfg Config, dataset rows.Mapping, metrics *Metrics) (*Worker, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	log := cfg.Logger.With("dataset", dataset.Name(), "topic", cfg.Topic)
	return &Worker{
		keyColumns: primaryKeyColumns(dataset),
		supersedes: !writeTimeFromValue(dataset),
		cfg:        cfg,
		dataset:    dataset,
		metrics:    metrics,
		log:        log,
		kafka:      newOutage(cfg.kafkaServer(), log),
		cassandra:  newOutage(cfg.cassandraServer(), log),
		dlqTopic:   newOutage(cfg.dlqServer(), log),
		bounds:     fetchcut.New(cfg.MaxRecordBytes, cfg.MaxBufferBytes),
	}, nil
}

// Name is the dataset's name.
func (w *Worker) Name() string { return w.dataset.Name() }

// Ready reports whether the worker is consuming and waits for nothing.
func (w *Worker) Ready() bool { return w.ready.Load() && w.problem().public == "" }

// problem says what the worker waits for after start-up, e.g. "waiting for kafka
// (KAFKA_BROKERS) since 2026-12-01T10:00:00Z (12s)"; nothing when it waits for
// nothing.
func (w *Worker) problem() status {
	return join(w.kafka.problem(), w.cassandra.problem(), w.dlqTopic.problem())
}

// startup says what start-up waits for (e.g. "waiting for kafka (KAFKA_BROKERS)
// since …"); nothing when it waits for nothing.
func (w *Worker) startup() status {
	if s := w.waiting.Load(); s != nil {
		return *s
	}
	return status{}
}

// Run connects to Cassandra and creates what is missing there, then creates the
// topics missing in Kafka, waiting for each server while it is unreachable, for at
// most StartupTimeout, and retrying the creations once it answers until they
// succeed. It then joins the consumer group and processes micro-batches until ctx
// is done, finishes the batches in hand (for at most DrainTimeout), commits them,
// leaves the group and returns nil. Any other return is an error that retrying will
// not cure.
func (w *Worker) Run(ctx context.Context) error {
	defer w.ready.Store(false)
	w.metrics.init(w.dataset.Name())
	tbl, err := w.openTable(ctx)
	if err != nil {
		return w.startupErr(ctx, err)
	}
	defer tbl.close()
	// The source topic too: a group that joins before its topic exists is assigned
	// nothing, and stays so when the topic appears (on a fresh stack the producer's
	// first run creates it).
	transport := w.cfg.Security.Transport()
	defer transport.CloseIdleConnections()
	if err := w.await(ctx, w.cfg.kafkaServer(), "check the broker list and that Kafka is running and listens there",
		func(ctx context.Context) error { return kafkasec.Dial(ctx, w.cfg.Brokers) }); err != nil {
		return w.startupErr(ctx, err)
	}
	if err := w.prepare(ctx, w.cfg.kafkaServer(), "creating the topics",
		func(ctx context.Context) error {
			if err := ensureTopic(ctx, w.cfg, transport, w.cfg.Topic); err != nil {
				return err
			}
			return ensureTopic(ctx, w.cfg, transport, w.cfg.DLQTopic,
				kafka.ConfigEntry{ConfigName: "max.message.bytes", ConfigValue: strconv.Itoa(dlqMaxMessageBytes)})
		}); err != nil {
		return w.startupErr(ctx, err)
	}
	w.warnDLQSmaller(ctx, transport)
	dlq := newDLQWriter(w.cfg, transport)
	defer dlq.Close()
	cons := newConsumer(w.cfg, w.log, w.bounds)
	defer cons.close()
	w.ready.Store(true)
	w.log.Info("consuming", "group", w.cfg.GroupID, "kafka_security", w.cfg.Security.String(), "table", w.cfg.Keyspace+"."+w.cfg.Table,
		"batch_rows", w.cfg.BatchRows, "batch_wait", w.cfg.BatchWait)
	return w.process(ctx, cons, tbl, dlq)
}

// process consumes src in micro-batches until ctx is done, writing their rows to
// tbl and their dead letters to dlq, and committing to src how far each partition's
// records are written. It then finishes the batches in hand (for at most
// DrainTimeout), commits them and returns nil; any other return is an error that
// retrying will not cure.
func (w *Worker) process(ctx context.Context, src source, tbl sink, dlq deadWriter) (runErr error) {
	// The batches in hand are finished after ctx is done, for at most DrainTimeout.
	work, cancel := context.WithCancel(context.WithoutCancel(ctx))
	defer cancel()
	stop := context.AfterFunc(ctx, func() { time.AfterFunc(w.cfg.DrainTimeout, cancel) })
	defer stop()

	// Fetch and decode the next batch while this one is being written.
	items := make(chan item, w.cfg.BatchRows)
	fetchErr := make(chan error, 1)
	fetchCtx, stopFetch := context.WithCancel(ctx)
	fetched := make(chan struct{})
	defer func() { stopFetch(); <-fetched }()
	held := newBudget(w.cfg.MaxBufferBytes)
	go func() {
		defer close(fetched)
		defer close(items)
		if err := w.fetch(fetchCtx, src, items, held); err != nil {
			fetchErr <- err
		}
	}()

	// Commit in order, off the write path: the next batch is written while the
	// previous batch's commit is in flight. Run returns only after the last commit.
	commits := make(chan []kafka.Message, 1)
	committed := make(chan struct{})
	go func() {
		defer close(committed)
		w.commitLoop(work, src, commits)
	}()
	defer func() {
		close(commits)
		<-committed
	}()

	// Dead letters are written in the background: a dead-letter topic that cannot be
	// written holds the commit of the partitions whose dead letters wait, not the
	// others. Its defer runs before the committer's: the last commit follows the last
	// dead letter.
	offs := newOffsets()
	dead := newDeadQueue()
	deadDone := make(chan struct{})
	go func() {
		defer close(deadDone)
		w.writeDeadLoop(work, dlq, dead, offs, held, commits)
	}()
	defer func() {
		dead.close()
		if runErr != nil { // a worker that stops on an error does not wait for the dead-letter topic
			cancel()
		}
		<-deadDone
	}()

	if err := w.consume(ctx, work, tbl, items, &finishing{queue: dead, offs: offs, held: held, commits: commits}); err != nil {
		return err
	}
	select {
	case err := <-fetchErr:
		return err
	default:
	}
	w.log.Info("stopping: the batches in hand are written; committing them")
	return nil
}

// startupErr is what Run returns when start-up failed with err: nil if ctx is done,
// since a stop asked for during start-up is no failure.
func (w *Worker) startupErr(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		w.log.Info("stopped during start-up", "err", err)
		return nil
	}
	return err
}

// logf adapts a slog logger to kafka-go's printf-style logger.
func logf(l *slog.Logger, level slog.Level) func(string, ...any) {
	return func(format string, args ...any) {
		l.Log(context.Background(), level, fmt.Sprintf(format, args...))
	}
}
