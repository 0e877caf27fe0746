package streaming

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/segmentio/kafka-go"
)

// Headers a dead-lettered message carries besides its original ones.
const (
	HeaderReason    = "dlq.reason"    // a Reason constant
	HeaderError     = "dlq.error"     // what exactly is wrong
	HeaderTopic     = "dlq.topic"     // source topic
	HeaderPartition = "dlq.partition" // source partition, decimal
	HeaderOffset    = "dlq.offset"    // source offset, decimal
	HeaderTimestamp = "dlq.timestamp" // source record time, Unix milliseconds
	HeaderStack     = "dlq.stack"     // reason panic: the decoder's stack trace, at most 4 KiB
)

// dlqMaxMessageBytes is the dead-letter topic's max.message.bytes: above the broker's
// 1 MB default, so that a source record that just fits still fits with its headers.
const dlqMaxMessageBytes = 8 << 20

// newDLQWriter returns a writer that produces to the dead-letter topic synchronously.
func newDLQWriter(cfg Config) *kafka.Writer {
	return &kafka.Writer{
		Addr:         kafka.TCP(cfg.Brokers...),
		Topic:        cfg.DLQTopic,
		Balancer:     &kafka.Hash{},
		RequiredAcks: kafka.RequireAll,
		BatchTimeout: 5 * time.Millisecond,
		BatchBytes:   dlqMaxMessageBytes,
		MaxAttempts:  1, // the worker retries with its own backoff
		ErrorLogger:  kafka.LoggerFunc(logf(cfg.Logger.With("component", "kafka-dlq-writer"), slog.LevelWarn)),
	}
}

// deadLetter is the DLQ message for m: its key, value and headers, plus headers
// saying why and where it came from.
func deadLetter(m kafka.Message, ie *InvalidError) kafka.Message {
	headers := append(m.Headers[:len(m.Headers):len(m.Headers)],
		kafka.Header{Key: HeaderReason, Value: []byte(ie.Reason)},
		kafka.Header{Key: HeaderError, Value: []byte(ie.Detail)},
		kafka.Header{Key: HeaderTopic, Value: []byte(m.Topic)},
		kafka.Header{Key: HeaderPartition, Value: strconv.AppendInt(nil, int64(m.Partition), 10)},
		kafka.Header{Key: HeaderOffset, Value: strconv.AppendInt(nil, m.Offset, 10)},
		kafka.Header{Key: HeaderTimestamp, Value: strconv.AppendInt(nil, m.Time.UnixMilli(), 10)},
	)
	if len(ie.stack) > 0 {
		headers = append(headers, kafka.Header{Key: HeaderStack, Value: ie.stack})
	}
	return kafka.Message{Key: m.Key, Value: m.Value, Headers: headers}
}

// ensureTopic creates topic with the broker's default partitions and replication
// unless it exists.
func ensureTopic(ctx context.Context, brokers []string, topic string, configs ...kafka.ConfigEntry) error {
	client := &kafka.Client{Addr: kafka.TCP(brokers...), Timeout: 10 * time.Second}
	res, err := client.CreateTopics(ctx, &kafka.CreateTopicsRequest{Topics: []kafka.TopicConfig{{
		Topic: topic, NumPartitions: -1, ReplicationFactor: -1, ConfigEntries: configs,
	}}})
	if err == nil {
		err = res.Errors[topic]
	}
	if err != nil && !errors.Is(err, kafka.TopicAlreadyExists) {
		return fmt.Errorf("creating kafka topic %s: %w", topic, err)
	}
	return nil
}
