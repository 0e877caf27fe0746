package streaming

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/segmentio/kafka-go"
)

// commitTimeout bounds an offset commit.
const commitTimeout = 10 * time.Second

// Worker consumes one dataset's topic in a consumer group and writes its table.
type Worker struct {
	cfg     Config
	dataset Dataset
	metrics *Metrics
	log     *slog.Logger
	ready   atomic.Bool
	waiting atomic.Pointer[string] // what start-up waits for; nil when it does not
}

// New checks cfg and returns a Worker for dataset that reports to metrics.
func New(cfg Config, dataset Dataset, metrics *Metrics) (*Worker, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	return &Worker{
		cfg:     cfg,
		dataset: dataset,
		metrics: metrics,
		log:     cfg.Logger.With("dataset", dataset.Name(), "topic", cfg.Topic),
	}, nil
}

// Name is the dataset's name.
func (w *Worker) Name() string { return w.dataset.Name() }

// Ready reports whether the worker is consuming and its last write succeeded.
func (w *Worker) Ready() bool { return w.ready.Load() }

// Waiting says what start-up waits for (e.g. "waiting for kafka at … since …: …"),
// or "" when it waits for nothing.
func (w *Worker) Waiting() string {
	if s := w.waiting.Load(); s != nil {
		return *s
	}
	return ""
}

func (w *Worker) setWaiting(format string, args ...any) {
	s := fmt.Sprintf(format, args...)
	w.waiting.Store(&s)
}

// Run connects to Cassandra and creates what is missing there, then creates the
// topics missing in Kafka, retrying each server while it is unreachable, for at most
// StartupTimeout. It then joins the consumer group and processes micro-batches until
// ctx is done, finishes the batch in hand (for at most DrainTimeout), commits it,
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
	if err := w.await(ctx, w.cfg.kafkaAt(), "check the broker list and that Kafka is running and listens there",
		func(ctx context.Context) error {
			if err := ensureTopic(ctx, w.cfg, w.cfg.Topic); err != nil {
				return err
			}
			return ensureTopic(ctx, w.cfg, w.cfg.DLQTopic,
				kafka.ConfigEntry{ConfigName: "max.message.bytes", ConfigValue: strconv.Itoa(dlqMaxMessageBytes)})
		}); err != nil {
		return w.startupErr(ctx, err)
	}
	dlq := newDLQWriter(w.cfg)
	defer dlq.Close()
	reader := kafka.NewReader(kafka.ReaderConfig{
		Brokers:          w.cfg.Brokers,
		GroupID:          w.cfg.GroupID,
		Topic:            w.cfg.Topic,
		StartOffset:      kafka.FirstOffset,
		CommitInterval:   0, // commit synchronously, when the worker says so
		JoinGroupBackoff: 300 * time.Millisecond,
		// Partitions added to the topic (scaling out) are consumed without a restart.
		WatchPartitionChanges:  true,
		PartitionWatchInterval: 5 * time.Second,
		// A worker that dies (kill -9, a lost host) gives up its partitions after 10 s,
		// Kafka's long-standing default, instead of kafka-go's 30 s.
		SessionTimeout: 10 * time.Second,
		// Closing the reader waits for the fetches in flight: keep their long poll short.
		MaxWait:     500 * time.Millisecond,
		Logger:      kafka.LoggerFunc(logf(w.log.With("component", "kafka-reader", "kafka", w.cfg.kafkaAt()), slog.LevelDebug)),
		ErrorLogger: kafka.LoggerFunc(logf(w.log.With("component", "kafka-reader", "kafka", w.cfg.kafkaAt()), slog.LevelWarn)),
	})
	defer reader.Close()

	// The batch in hand is finished after ctx is done, for at most DrainTimeout.
	work, cancel := context.WithCancel(context.WithoutCancel(ctx))
	defer cancel()
	stop := context.AfterFunc(ctx, func() { time.AfterFunc(w.cfg.DrainTimeout, cancel) })
	defer stop()

	// Fetch and decode the next batch while this one is being written.
	items := make(chan item, w.cfg.BatchRows)
	fetchErr := make(chan error, 1)
	consumed := w.metrics.consumed.WithLabelValues(w.dataset.Name())
	fetchCtx, stopFetch := context.WithCancel(ctx)
	defer stopFetch()
	go func() {
		defer close(items)
		for {
			m, err := reader.FetchMessage(fetchCtx)
			if err != nil {
				fetchErr <- err
				return
			}
			consumed.Inc()
			select {
			case items <- w.decode(m):
			case <-fetchCtx.Done():
				return
			}
		}
	}()

	// Commit in order, off the write path: the next batch is written while the
	// previous batch's commit is in flight. Run returns only after the last commit.
	commits := make(chan []kafka.Message, 1)
	committed := make(chan struct{})
	go func() {
		defer close(committed)
		for last := range commits {
			w.commit(work, reader, last)
		}
	}()
	defer func() {
		close(commits)
		<-committed
	}()

	w.ready.Store(true)
	w.log.Info("consuming", "group", w.cfg.GroupID, "table", w.cfg.Keyspace+"."+w.cfg.Table,
		"batch_rows", w.cfg.BatchRows, "batch_wait", w.cfg.BatchWait)
	buf := make([]item, 0, w.cfg.BatchRows)
	for ctx.Err() == nil {
		batch, more := collect(ctx, items, w.cfg.BatchRows, w.cfg.BatchWait, buf)
		if len(batch) > 0 {
			if err := w.process(work, dlq, tbl, batch, commits); err != nil {
				return err
			}
		}
		if !more {
			break
		}
	}
	select {
	case err := <-fetchErr:
		if ctx.Err() == nil {
			return fmt.Errorf("fetching from topic %s of %s: %w", w.cfg.Topic, w.cfg.kafkaAt(), err)
		}
	default:
	}
	w.log.Info("stopping: the batch in hand is written; committing it")
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

// process writes a batch's valid records to Cassandra and its invalid ones to the
// dead-letter topic, retrying each until it succeeds, and only then hands the batch's
// offsets to commits: the last offset of each partition.
func (w *Worker) process(ctx context.Context, dlq *kafka.Writer, tbl *table, batch []item, commits chan<- []kafka.Message) error {
	start := time.Now()
	name := w.dataset.Name()

	rows := make([]pendingRow, 0, len(batch))
	var dead []kafka.Message
	var reasons []string
	for _, it := range batch {
		m := it.msg
		if it.bad != nil {
			w.log.Warn("invalid record: sending it to the dead-letter topic", "reason", it.bad.Reason,
				"error", it.bad.Detail, "partition", m.Partition, "offset", m.Offset)
			dead = append(dead, deadLetter(m, it.bad))
			reasons = append(reasons, it.bad.Reason)
			continue
		}
		rows = append(rows, pendingRow{Row: it.row, at: m.Time})
	}

	pending := rows
	if err := w.retry(ctx, "cassandra", func(ctx context.Context) (err error) {
		pending, err = tbl.write(ctx, pending)
		return err
	}); err != nil {
		return err
	}
	now := time.Now()
	w.metrics.written.WithLabelValues(name).Add(float64(len(rows)))
	latency := w.metrics.latency.WithLabelValues(name)
	for _, r := range rows {
		latency.Observe(now.Sub(r.at).Seconds())
	}

	if len(dead) > 0 {
		if err := w.retry(ctx, "dlq", func(ctx context.Context) error {
			if err := dlq.WriteMessages(ctx, dead...); err != nil {
				return fmt.Errorf("writing to dead-letter topic %s of %s: %w", w.cfg.DLQTopic, w.cfg.kafkaAt(), err)
			}
			return nil
		}); err != nil {
			return err
		}
		for _, r := range reasons {
			w.metrics.dlq.WithLabelValues(name, r).Inc()
		}
	}

	last := lastPerPartition(batch)
	for _, m := range last {
		w.metrics.setLag(name, m.Topic, m.Partition, m.Offset, m.HighWaterMark)
	}
	commits <- last
	took := time.Since(start)
	w.metrics.batchRows.WithLabelValues(name).Observe(float64(len(batch)))
	w.metrics.batchTime.WithLabelValues(name).Observe(took.Seconds())
	w.log.Debug("batch written", "records", len(batch), "rows", len(rows), "dlq", len(dead), "took", took)
	return nil
}

// commit commits the offsets after last, once. A commit that fails is not retried:
// the records are written, and at worst they are consumed and upserted again.
func (w *Worker) commit(ctx context.Context, reader *kafka.Reader, last []kafka.Message) {
	ctx, cancel := context.WithTimeout(ctx, commitTimeout)
	defer cancel()
	if err := reader.CommitMessages(ctx, last...); err != nil {
		w.log.Warn("committing offsets failed; the batch will be consumed again", "kafka", w.cfg.kafkaAt(), "err", err)
	}
}

// item is a fetched message and its decoding: a row, or why it cannot be one.
type item struct {
	msg kafka.Message
	row Row
	bad *InvalidError
}

// decode turns a message into a row, or says why it cannot become one.
func (w *Worker) decode(m kafka.Message) item {
	if len(m.Value) > w.cfg.MaxRecordBytes {
		return item{msg: m, bad: invalid(ReasonTooLarge, "value is %d bytes, more than the limit of %d",
			len(m.Value), w.cfg.MaxRecordBytes)}
	}
	row, err := w.dataset.Decode(m.Key, m.Value)
	if err != nil {
		bad := asInvalid(err)
		if bad == nil {
			bad = invalid("invalid", "%v", err)
		}
		return item{msg: m, bad: bad}
	}
	return item{msg: m, row: row}
}

// retry calls fn until it succeeds, backing off between attempts, and gives up only
// on an error that will recur or when ctx is done.
func (w *Worker) retry(ctx context.Context, stage string, fn func(context.Context) error) error {
	for b := newBackoff(); ; {
		err := fn(ctx)
		if err == nil {
			w.ready.Store(true)
			return nil
		}
		if permanent(err) {
			return fmt.Errorf("writing a batch (%s), which cannot succeed: %w", stage, err)
		}
		w.ready.Store(false)
		w.metrics.retries.WithLabelValues(w.dataset.Name(), stage).Inc()
		d := b.next()
		w.log.Warn("writing a batch failed; retrying", "stage", stage, "in", d, "err", err)
		if sleep(ctx, d) != nil {
			return fmt.Errorf("writing a batch (%s): gave up at shutdown, nothing committed: %w", stage, err)
		}
	}
}

// lastPerPartition returns the last message of each partition in batch.
func lastPerPartition(batch []item) []kafka.Message {
	idx := map[int]int{}
	var last []kafka.Message
	for _, it := range batch {
		m := it.msg
		if i, ok := idx[m.Partition]; ok {
			last[i] = m
			continue
		}
		idx[m.Partition] = len(last)
		last = append(last, m)
	}
	return last
}

// logf adapts a slog logger to kafka-go's printf-style logger.
func logf(l *slog.Logger, level slog.Level) func(string, ...any) {
	return func(format string, args ...any) {
		l.Log(context.Background(), level, fmt.Sprintf(format, args...))
	}
}
