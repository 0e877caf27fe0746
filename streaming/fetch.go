package streaming

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/segmentio/kafka-go"
)

// source is where a worker reads its records and commits how far it got: the Kafka
// consumer group (consumer.go), or an in-memory fake in unit tests.
type source interface {
	// fetch returns the next record, or why there is none (an outage, a refusal).
	fetch(ctx context.Context) (kafka.Message, error)
	// commit commits the offsets after msgs, one record per partition.
	commit(ctx context.Context, msgs []kafka.Message) error
	// probe asks the brokers whether they answer, when fetch is quiet during an outage.
	probe(ctx context.Context) error
	// failing is told how long fetches have been failing, after each failure.
	failing(down time.Duration)
}

const (
	// quietProbe: during an outage, a fetch that sees neither a message nor an error
	// for this long makes the worker ask the brokers whether they are back.
	quietProbe = 3 * time.Second
	// fetchSettle: a fetched message ends an outage only this long after its last
	// error (the reader may hand out messages it fetched before the outage).
	fetchSettle = 2 * time.Second
)

// fetch fetches messages, decodes them and sends them to items until ctx is done or
// Kafka says something that waiting will not change (then it returns why). Every
// other fetch error is an outage: fetch retries with backoff, for as long as it
// lasts, and replaces the reader when it outlasts rebuildAfter. A quiet reader
// during an outage is asked about with a metadata request, so that an idle worker
// also sees Kafka come back.
func (w *Worker) fetch(ctx context.Context, src source, items chan<- item, held *budget) error {
	consumed := w.metrics.consumed.WithLabelValues(w.dataset.Name())
	retries := w.metrics.retries.WithLabelValues(w.dataset.Name(), "fetch")
	b := newBackoff()
	for {
		fetchCtx, cancel := ctx, context.CancelFunc(func() {})
		since, last, _ := w.kafka.down()
		if !since.IsZero() {
			fetchCtx, cancel = context.WithTimeout(ctx, quietProbe)
		}
		m, err := src.fetch(fetchCtx)
		cancel()
		switch {
		case ctx.Err() != nil:
			return nil
		case err == nil:
			b = newBackoff()
			w.kafka.okIfQuiet(fetchSettle)
		case errors.Is(err, context.DeadlineExceeded) && !since.IsZero():
			// No message and no error for quietProbe during an outage.
			if time.Since(last) >= quietProbe && src.probe(ctx) == nil {
				w.kafka.ok()
			}
			continue
		case kafkaFatal(err):
			return fmt.Errorf("fetching from topic %s of %s: %w", w.cfg.Topic, w.cfg.kafkaAt(), err)
		default:
			w.kafka.fail(fmt.Errorf("fetching from topic %s: %w", w.cfg.Topic, err))
			retries.Inc()
			since, _, _ := w.kafka.down()
			src.failing(time.Since(since))
			if sleep(ctx, b.next()) != nil {
				return nil
			}
			continue
		}
		consumed.Inc()
		it := w.decode(m)
		if held.acquire(ctx, it.size) != nil {
			return nil
		}
		select {
		case items <- it:
		case <-ctx.Done():
			return nil
		}
	}
}
