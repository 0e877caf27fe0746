package streaming

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
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
	return kafka.Message{Key: m.Key, Value: m.Value, Headers: headers}
}

// ensureTopic creates topic with the broker's default partitions and replication
// unless it exists. Errors that retrying will not cure (a name or a setting the
// broker refuses, a missing permission) are wrapped in giveUp.
func ensureTopic(ctx context.Context, cfg Config, topic string, configs ...kafka.ConfigEntry) error {
	// kafka.Client reports a broker it cannot reach as "[8] Broker Not Available",
	// and its transport remembers that for seconds: dial first, to report why and to
	// leave the transport alone while nothing listens. The transport is kafka-go's
	// shared one, whose metadata the creation refreshes for this process's writers.
	if err := dialAny(ctx, cfg.Brokers); err != nil {
		return err
	}
	client := &kafka.Client{Addr: kafka.TCP(cfg.Brokers...), Timeout: 10 * time.Second}
	res, err := client.CreateTopics(ctx, &kafka.CreateTopicsRequest{Topics: []kafka.TopicConfig{{
		Topic: topic, NumPartitions: -1, ReplicationFactor: -1, ConfigEntries: configs,
	}}})
	if err == nil {
		var ok bool
		if err, ok = res.Errors[topic]; !ok {
			err = fmt.Errorf("kafka answered without a word on topic %s", topic)
		}
	}
	if err == nil || errors.Is(err, kafka.TopicAlreadyExists) {
		return nil
	}
	for _, e := range []kafka.Error{kafka.InvalidTopic, kafka.InvalidPartitionNumber, kafka.InvalidReplicationFactor,
		kafka.InvalidConfiguration, kafka.PolicyViolation, kafka.TopicAuthorizationFailed,
		kafka.ClusterAuthorizationFailed, kafka.SASLAuthenticationFailed} {
		if errors.Is(err, e) {
			return giveUp{fmt.Errorf("creating topic %s on %s: %w", topic, cfg.kafkaAt(), err)}
		}
	}
	return fmt.Errorf("creating topic %s: %w", topic, err) // the caller names the brokers
}

// dialAny returns nil once one of brokers accepts a TCP connection, else the last
// dial error.
func dialAny(ctx context.Context, brokers []string) error {
	d := net.Dialer{Timeout: 5 * time.Second}
	var err error
	for _, b := range brokers {
		var conn net.Conn
		if conn, err = d.DialContext(ctx, "tcp", b); err == nil {
			return conn.Close()
		}
	}
	return err
}
