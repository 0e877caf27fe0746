package streaming

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/segmentio/kafka-go"
)

// Worker consumes one dataset's topic in a consumer group and writes its table.
type Worker struct {
	cfg     Config
	dataset Dataset
	metrics *Metrics
	log     *slog.Logger
	ready   atomic.Bool
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

// Run connects to Cassandra (retrying while it boots), creates what is missing, joins
// the consumer group and processes micro-batches until ctx is done. It then finishes
// the batch in hand (for at most DrainTimeout), commits it, leaves the group and
// returns nil. Any other return is an error that retrying will not cure.
func (w *Worker) Run(ctx context.Context) error {
	defer w.ready.Store(false)
	w.metrics.init(w.dataset.Name())
	tbl, err := openTable(ctx, w.cfg, w.dataset)
	if err != nil {
		return err
	}
	defer tbl.close()
	if err := ensureTopic(ctx, w.cfg.Brokers, w.cfg.DLQTopic,
		kafka.ConfigEntry{ConfigName: "max.message.bytes", ConfigValue: strconv.Itoa(dlqMaxMessageBytes)}); err != nil {
		return err
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
		// A worker that dies (kill -9, a lost host) gives up its partitions after 10 s,
		// Kafka's long-standing default, instead of kafka-go's 30 s.
		SessionTimeout: 10 * time.Second,
		// Closing the reader waits for the fetches in flight: keep their long poll short.
		MaxWait:     500 * time.Millisecond,
		Logger:      kafka.LoggerFunc(logf(w.log.With("component", "kafka-reader"), slog.LevelDebug)),
		ErrorLogger: kafka.LoggerFunc(logf(w.log.With("component", "kafka-reader"), slog.LevelWarn)),
	})
	defer reader.Close()

	// The batch in hand is finished after ctx is done, for at most DrainTimeout.
	work, cancel := context.WithCancel(context.WithoutCancel(ctx))
	defer cancel()
	stop := context.AfterFunc(ctx, func() { time.AfterFunc(w.cfg.DrainTimeout, cancel) })
	defer stop()

	msgs := make(chan kafka.Message)
	fetchErr := make(chan error, 1)
	consumed := w.metrics.consumed.WithLabelValues(w.dataset.Name())
	go func() {
		defer close(msgs)
		for {
			m, err := reader.FetchMessage(ctx)
			if err != nil {
				fetchErr <- err
				return
			}
			consumed.Inc()
			select {
			case msgs <- m:
			case <-ctx.Done():
				return
			}
		}
	}()

	w.ready.Store(true)
	w.log.Info("consuming", "group", w.cfg.GroupID, "table", w.cfg.Keyspace+"."+w.cfg.Table,
		"batch_rows", w.cfg.BatchRows, "batch_wait", w.cfg.BatchWait)
	buf := make([]kafka.Message, 0, w.cfg.BatchRows)
	for more := true; more; {
		var batch []kafka.Message
		batch, more = collect(ctx, msgs, w.cfg.BatchRows, w.cfg.BatchWait, buf)
		if len(batch) == 0 {
			continue
		}
		if err := w.process(work, reader, dlq, tbl, batch); err != nil {
			return err
		}
	}
	select {
	case err := <-fetchErr:
		if ctx.Err() == nil {
			return fmt.Errorf("fetching from kafka topic %s: %w", w.cfg.Topic, err)
		}
	default:
	}
	w.log.Info("stopped: the batch in hand is written and committed")
	return nil
}

// process writes a batch's valid records to Cassandra and its invalid ones to the
// dead-letter topic, retrying each until it succeeds, and only then commits the
// batch's offsets: one commit, the last offset of each partition.
func (w *Worker) process(ctx context.Context, reader *kafka.Reader, dlq *kafka.Writer, tbl *table, batch []kafka.Message) error {
	start := time.Now()
	name := w.dataset.Name()

	rows := make([]pendingRow, 0, len(batch))
	var dead []kafka.Message
	var reasons []string
	for _, m := range batch {
		row, err := w.decode(m)
		if err != nil {
			ie := asInvalid(err)
			w.log.Warn("invalid record: sending it to the dead-letter topic", "reason", ie.Reason,
				"error", ie.Detail, "partition", m.Partition, "offset", m.Offset)
			dead = append(dead, deadLetter(m, ie))
			reasons = append(reasons, ie.Reason)
			continue
		}
		rows = append(rows, pendingRow{Row: row, at: m.Time})
	}

	written := len(rows)
	if err := w.retry(ctx, "cassandra", func(ctx context.Context) (err error) {
		rows, err = tbl.write(ctx, rows)
		return err
	}); err != nil {
		return err
	}
	now := time.Now()
	w.metrics.written.WithLabelValues(name).Add(float64(written))
	latency := w.metrics.latency.WithLabelValues(name)
	for _, m := range batch {
		latency.Observe(now.Sub(m.Time).Seconds())
	}

	if len(dead) > 0 {
		if err := w.retry(ctx, "dlq", func(ctx context.Context) error {
			return dlq.WriteMessages(ctx, dead...)
		}); err != nil {
			return err
		}
		for _, r := range reasons {
			w.metrics.dlq.WithLabelValues(name, r).Inc()
		}
	}

	last := lastPerPartition(batch)
	if err := reader.CommitMessages(ctx, last...); err != nil {
		// The records are written: at worst they are consumed and upserted again.
		w.log.Warn("committing offsets failed; the batch will be consumed again", "err", err)
	}
	for _, m := range last {
		w.metrics.setLag(name, m.Topic, m.Partition, m.Offset, m.HighWaterMark)
	}
	took := time.Since(start)
	w.metrics.batchRows.WithLabelValues(name).Observe(float64(len(batch)))
	w.metrics.batchTime.WithLabelValues(name).Observe(took.Seconds())
	w.log.Debug("batch done", "records", len(batch), "rows", written, "dlq", len(dead), "took", took)
	return nil
}

// decode turns a message into a row, or says why it cannot become one.
func (w *Worker) decode(m kafka.Message) (Row, error) {
	if len(m.Value) > w.cfg.MaxRecordBytes {
		return Row{}, invalid(ReasonTooLarge, "value is %d bytes, more than the limit of %d", len(m.Value), w.cfg.MaxRecordBytes)
	}
	row, err := w.dataset.Decode(m.Key, m.Value)
	if err != nil && asInvalid(err) == nil {
		err = invalid("invalid", "%v", err)
	}
	return row, err
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
		if err := sleep(ctx, d); err != nil {
			return fmt.Errorf("writing a batch (%s): gave up at shutdown, nothing committed: %w", stage, errors.Join(err, ctx.Err()))
		}
	}
}

// lastPerPartition returns the last message of each partition in batch.
func lastPerPartition(batch []kafka.Message) []kafka.Message {
	idx := map[int]int{}
	var last []kafka.Message
	for _, m := range batch {
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
