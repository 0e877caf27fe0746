package streaming

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/streampipe/streampipe/internal/kafkasec"
)

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
func (w *Worker) fetch(ctx context.Context, cons *consumer, items chan<- item, held *budget) error {
	consumed := w.metrics.consumed.WithLabelValues(w.dataset.Name())
	retries := w.metrics.retries.WithLabelValues(w.dataset.Name(), "fetch")
	b := newBackoff()
	for {
		fetchCtx, cancel := ctx, context.CancelFunc(func() {})
		since, last, _ := w.kafka.down()
		if !since.IsZero() {
			fetchCtx, cancel = context.WithTimeout(ctx, quietProbe)
		}
		m, err := cons.reader().FetchMessage(fetchCtx)
		cancel()
		if err != nil && ctx.Err() == nil {
			err = w.cfg.Security.Explain(ctx, w.cfg.Brokers, err)
		}
		switch {
		case ctx.Err() != nil:
			return nil
		case err == nil:
			b = newBackoff()
			w.kafka.okIfQuiet(fetchSettle)
		case errors.Is(err, context.DeadlineExceeded) && !since.IsZero():
			// No message and no error for quietProbe during an outage.
			if time.Since(last) >= quietProbe && kafkasec.Metadata(ctx, w.cfg.Security, w.cfg.Brokers, w.cfg.Topic) == nil {
				w.kafka.ok()
			}
			continue
		case kafkaFatal(err):
			return fmt.Errorf("fetching from topic %s of %s: %w", w.cfg.Topic, w.cfg.kafkaAt(), err)
		default:
			w.kafka.fail(fmt.Errorf("fetching from topic %s: %w", w.cfg.Topic, err))
			retries.Inc()
			if since, _, _ := w.kafka.down(); time.Since(since) >= rebuildAfter && cons.age() >= rebuildAfter {
				cons.rebuild()
			}
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
