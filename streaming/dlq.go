package streaming

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/streampipe/streampipe/internal/kafkasec"
	"github.com/streampipe/streampipe/rows"
	"github.com/streampipe/streampipe/streaming/fetchcut"
)

// dlqMaxMessageBytes is the dead-letter topic's max.message.bytes: above the broker's
// 1 MB default, so that a source record that just fits still fits with its headers.
const dlqMaxMessageBytes = 8 << 20

// newDLQWriter returns a writer that produces to the dead-letter topic synchronously,
// through transport.
func newDLQWriter(cfg Config, transport kafka.RoundTripper) *kafka.Writer {
	return &kafka.Writer{
		Addr:         kafka.TCP(cfg.Brokers...),
		Transport:    transport,
		Topic:        cfg.DLQTopic,
		Balancer:     &kafka.Hash{},
		RequiredAcks: kafka.RequireAll,
		BatchTimeout: 5 * time.Millisecond,
		BatchBytes:   dlqMaxMessageBytes,
		MaxAttempts:  1, // the worker retries with its own backoff
		// The worker logs a failing dead-letter topic once (outage): these are for debugging.
		ErrorLogger: kafka.LoggerFunc(logf(cfg.Logger.With("component", "kafka-dlq-writer"), slog.LevelDebug)),
	}
}

// deadWriter writes dead letters: a *kafka.Writer to the dead-letter topic, or an
// in-memory fake in unit tests.
type deadWriter interface {
	WriteMessages(ctx context.Context, msgs ...kafka.Message) error
}

// writeDeadLetters writes msgs to the dead-letter topic and returns those that are
// not written, with the error. A dead letter the writer or the broker refuses as
// too large is sent again at once as its dlq.* headers and the first
// fetchcut.TruncatedValueBytes of its key and value, with reason too_large: a dead letter
// always gets out.
func (w *Worker) writeDeadLetters(ctx context.Context, dlq deadWriter, msgs []kafka.Message) ([]kafka.Message, error) {
	for shrunk := false; ; shrunk = true {
		err := dlq.WriteMessages(ctx, msgs...)
		if err == nil {
			return nil, nil
		}
		var unsent []kafka.Message
		var tooLarge int
		var errs kafka.WriteErrors
		switch {
		case errors.As(err, &errs) && len(errs) == len(msgs):
			for i, e := range errs {
				switch {
				case e == nil: // written
				case !shrunk && errors.Is(e, kafka.MessageSizeTooLarge):
					unsent = append(unsent, truncated(msgs[i]))
					tooLarge++
				default:
					unsent = append(unsent, msgs[i])
				}
			}
		case !shrunk && errors.Is(err, kafka.MessageSizeTooLarge): // refused by the writer itself
			for _, m := range msgs {
				if len(m.Value)+len(m.Key) > fetchcut.TruncatedValueBytes {
					m = truncated(m)
					tooLarge++
				}
				unsent = append(unsent, m)
			}
		default:
			unsent = msgs
		}
		if tooLarge == 0 {
			return unsent, fmt.Errorf("writing %d dead letters to topic %s of %s: %w", len(unsent), w.cfg.DLQTopic, w.cfg.kafkaAt(), err)
		}
		w.log.Warn("the dead-letter topic refused dead letters as too large: sending them truncated",
			"count", tooLarge, "keep_bytes", fetchcut.TruncatedValueBytes)
		msgs = unsent
	}
}

// truncated is dead letter m cut down to fit: its dlq.* headers (reason too_large,
// the original reason in dlq.error) and the first fetchcut.TruncatedValueBytes of its key
// and value; the source topic's partition and offset say where the whole record is.
func truncated(m kafka.Message) kafka.Message {
	var headers []kafka.Header
	reason := ""
	for _, h := range m.Headers {
		switch {
		case h.Key == rows.HeaderReason:
			reason = string(h.Value)
		case h.Key == rows.HeaderError:
		case strings.HasPrefix(h.Key, rows.HeaderPrefix):
			headers = append(headers, h)
		}
	}
	detail := fmt.Sprintf("the dead letter (reason %s) of %d bytes was refused as too large by the dead-letter topic; "+
		"key and value are cut to their first %d bytes, the whole record is at the source offset", reason,
		len(m.Key)+len(m.Value), fetchcut.TruncatedValueBytes)
	headers = append(headers,
		kafka.Header{Key: rows.HeaderReason, Value: []byte(rows.ReasonTooLarge)},
		kafka.Header{Key: rows.HeaderError, Value: []byte(detail)},
		kafka.Header{Key: rows.HeaderTruncated, Value: []byte("true")})
	return kafka.Message{Key: truncate(m.Key, fetchcut.TruncatedValueBytes), Value: truncate(m.Value, fetchcut.TruncatedValueBytes), Headers: headers}
}

// warnDLQSmaller warns when the dead-letter topic takes smaller messages than the
// source topic: a record that fits the source could then only be dead-lettered
// truncated.
func (w *Worker) warnDLQSmaller(ctx context.Context, transport kafka.RoundTripper) {
	client := &kafka.Client{Addr: kafka.TCP(w.cfg.Brokers...), Timeout: 10 * time.Second, Transport: transport}
	res, err := client.DescribeConfigs(ctx, &kafka.DescribeConfigsRequest{Resources: []kafka.DescribeConfigRequestResource{
		{ResourceType: kafka.ResourceTypeTopic, ResourceName: w.cfg.Topic, ConfigNames: []string{"max.message.bytes"}},
		{ResourceType: kafka.ResourceTypeTopic, ResourceName: w.cfg.DLQTopic, ConfigNames: []string{"max.message.bytes"}},
	}})
	if err != nil {
		w.log.Debug("could not read the topics' max.message.bytes", "err", err)
		return
	}
	size := map[string]int{}
	for _, r := range res.Resources {
		for _, e := range r.ConfigEntries {
			if n, err := strconv.Atoi(e.ConfigValue); err == nil && r.Error == nil {
				size[r.ResourceName] = n
			}
		}
	}
	src, dst := size[w.cfg.Topic], size[w.cfg.DLQTopic]
	if src > 0 && dst > 0 && dst < src {
		w.log.Warn("the dead-letter topic takes smaller messages than the source topic: large invalid records will be "+
			"dead-lettered truncated; raise its max.message.bytes", "dlq_topic", w.cfg.DLQTopic,
			"dlq_max_message_bytes", dst, "source_max_message_bytes", src)
	}
}

// ensureTopic creates topic with the broker's default partitions and replication
// unless it exists. Errors that retrying will not cure (a name or a setting the
// broker refuses, a missing permission, refused credentials, a certificate not
// trusted) are wrapped in giveUp.
func ensureTopic(ctx context.Context, cfg Config, transport kafka.RoundTripper, topic string, configs ...kafka.ConfigEntry) error {
	// kafka.Client reports a broker it cannot reach as "[8] Broker Not Available",
	// and its transport remembers that for seconds: dial first, to report why and to
	// leave the transport alone while nothing listens. The transport is the
	// dead-letter writer's, whose metadata the creation refreshes.
	if err := kafkasec.Dial(ctx, cfg.Brokers); err != nil {
		return err
	}
	client := &kafka.Client{Addr: kafka.TCP(cfg.Brokers...), Timeout: 10 * time.Second, Transport: transport}
	res, err := client.CreateTopics(ctx, &kafka.CreateTopicsRequest{Topics: []kafka.TopicConfig{{
		Topic: topic, NumPartitions: -1, ReplicationFactor: -1, ConfigEntries: configs,
	}}})
	err = cfg.Security.Explain(ctx, cfg.Brokers, err)
	if err == nil {
		var ok bool
		if err, ok = res.Errors[topic]; !ok {
			err = fmt.Errorf("kafka answered without a word on topic %s", topic)
		}
	}
	if err == nil || errors.Is(err, kafka.TopicAlreadyExists) {
		return nil
	}
	// Not InvalidReplicationFactor: with the broker's default replication, it says that
	// fewer brokers run than the topic wants replicas (a broker down), which passes.
	if kafkaFatal(err) || isKafkaError(err, kafka.InvalidTopic, kafka.InvalidPartitionNumber,
		kafka.InvalidConfiguration, kafka.PolicyViolation) {
		return giveUp{fmt.Errorf("creating topic %s on %s: %w", topic, cfg.kafkaAt(), err)}
	}
	return fmt.Errorf("creating topic %s: %w", topic, err) // the caller names the brokers
}
