package streaming

import (
	"context"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/streampipe/streampipe/internal/kafkasec"
	"github.com/streampipe/streampipe/streaming/fetchcut"
)

// rebuildAfter is how long fetches may fail before the reader is replaced by a new
// one: kafka-go's reader heals most outages itself, a fresh one heals the rest.
const rebuildAfter = 30 * time.Second

// consumer is the worker's source in production: a Kafka consumer group. It holds
// the group reader, which it replaces when an outage outlasts it; commits always go
// through the current one.
type consumer struct {
	cfg    Config
	log    *slog.Logger
	bounds *fetchcut.Bounds // of the fetch responses the readers get

	mu    sync.Mutex
	r     *kafka.Reader
	built time.Time
	old   sync.WaitGroup // readers being closed
}

func newConsumer(cfg Config, log *slog.Logger, bounds *fetchcut.Bounds) *consumer {
	c := &consumer{cfg: cfg, log: log, bounds: bounds}
	c.r, c.built = c.newReader(), time.Now()
	return c
}

// isolation is the reader's isolation level: read_committed unless the config asks
// for read_uncommitted.
func (c *consumer) isolation() kafka.IsolationLevel {
	if c.cfg.ReadUncommitted {
		return kafka.ReadUncommitted
	}
	return kafka.ReadCommitted
}

func (c *consumer) newReader() *kafka.Reader {
	return kafka.NewReader(kafka.ReaderConfig{
		Brokers:          c.cfg.Brokers,
		GroupID:          c.cfg.GroupID,
		Topic:            c.cfg.Topic,
		StartOffset:      kafka.FirstOffset,
		IsolationLevel:   c.isolation(),
		Dialer:           c.dialer(),
		CommitInterval:   0, // commit synchronously, when the worker says so
		JoinGroupBackoff: 300 * time.Millisecond,
		// Partitions added to the topic (scaling out) are consumed without a restart.
		WatchPartitionChanges:  true,
		PartitionWatchInterval: 5 * time.Second,
		// A worker that dies (kill -9, a lost host) gives up its partitions after 10 s,
		// Kafka's long-standing default, instead of kafka-go's 30 s.
		SessionTimeout: 10 * time.Second,
		// Closing the reader waits for the fetches in flight: keep their long poll short.
		MaxWait: 500 * time.Millisecond,
		// The reader's queue holds messages of at most MaxRecordBytes (package fetchcut cuts
		// larger ones): a quarter of the byte budget.
		QueueCapacity: queueCapacity(c.cfg),
		// While Kafka is down the reader logs every failed dial: the worker logs the
		// outage once (outage), so these are for debugging.
		Logger:      kafka.LoggerFunc(logf(c.log.With("component", "kafka-reader", "kafka", c.cfg.kafkaAt()), slog.LevelDebug)),
		ErrorLogger: kafka.LoggerFunc(logf(c.log.With("component", "kafka-reader", "kafka", c.cfg.kafkaAt()), slog.LevelDebug)),
	})
}

// dialer is the readers' dialer: kafka-go's default one with the worker's TLS and
// SASL, whose connections rebuild the fetch responses they carry within the worker's
// bounds (package fetchcut). The cutting reads Kafka's frames: the TLS handshake is done
// beneath it, by the DialFunc, not by kafka-go above it; SASL stays kafka-go's.
func (c *consumer) dialer() *kafka.Dialer {
	d := c.cfg.Security.Dialer()
	d.DialFunc = c.bounds.Dial(c.cfg.Security.DialFunc(&net.Dialer{}))
	d.TLS = nil
	return d
}

func (c *consumer) fetch(ctx context.Context) (kafka.Message, error) {
	m, err := c.reader().FetchMessage(ctx)
	if err != nil && ctx.Err() == nil {
		err = c.cfg.Security.Explain(ctx, c.cfg.Brokers, err)
	}
	return m, err
}

func (c *consumer) commit(ctx context.Context, msgs []kafka.Message) error {
	return c.reader().CommitMessages(ctx, msgs...)
}

func (c *consumer) probe(ctx context.Context) error {
	return kafkasec.Metadata(ctx, c.cfg.Security, c.cfg.Brokers, c.cfg.Topic)
}

// failing replaces the reader by a new one once fetches have failed for rebuildAfter
// and the reader is older than that.
func (c *consumer) failing(down time.Duration) {
	if down >= rebuildAfter && c.age() >= rebuildAfter {
		c.rebuild()
	}
}

// reader returns the current reader.
func (c *consumer) reader() *kafka.Reader {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.r
}

// age is how long ago the current reader was made.
func (c *consumer) age() time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Since(c.built)
}

// rebuild replaces the reader by a new one, which joins the group afresh and starts
// from the committed offsets. The old one is closed in the background: leaving the
// group waits for a broker that may still be down.
func (c *consumer) rebuild() {
	c.mu.Lock()
	old := c.r
	c.r, c.built = c.newReader(), time.Now()
	c.mu.Unlock()
	c.log.Debug("kafka reader replaced by a new one; it joins the group again")
	c.old.Go(func() { _ = old.Close() })
}

// close closes the current reader and waits for the old ones to be closed.
func (c *consumer) close() {
	_ = c.reader().Close()
	c.old.Wait()
}

// queueCapacity is the capacity, in messages, of the reader's queue: a quarter of
// the byte budget in messages of the largest size the worker takes whole.
func queueCapacity(cfg Config) int {
	return max(1, min(100, cfg.MaxBufferBytes/4/cfg.MaxRecordBytes))
}
