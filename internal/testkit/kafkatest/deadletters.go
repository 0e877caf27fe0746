package kafkatest

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/streampipe/streampipe/rows"
)

// Produce writes msgs to topic, each to its Partition.
func Produce(t testing.TB, brokers []string, topic string, msgs []kafka.Message) {
	t.Helper()
	w := &kafka.Writer{Addr: kafka.TCP(brokers...), Topic: topic, RequiredAcks: kafka.RequireAll, BatchSize: 1000,
		Balancer: kafka.BalancerFunc(func(m kafka.Message, _ ...int) int { return m.Partition })}
	defer w.Close()
	if err := w.WriteMessages(context.Background(), msgs...); err != nil {
		t.Fatalf("writing %d messages to topic %s: %v", len(msgs), topic, err)
	}
}

// DeadLetter is a dead letter as the streaming worker writes it (with a source
// header "trace" and extra), of the record with key and value at
// src/partition/offset, to go to dead-letter partition dlqPartition at time at.
func DeadLetter(reason, src string, partition int, offset int64, key, value string, dlqPartition int, at time.Time, extra ...kafka.Header) kafka.Message {
	headers := append([]kafka.Header{{Key: "trace", Value: []byte("abc")}}, extra...)
	headers = append(headers,
		kafka.Header{Key: rows.HeaderReason, Value: []byte(reason)},
		kafka.Header{Key: rows.HeaderError, Value: []byte("what is wrong")},
		kafka.Header{Key: rows.HeaderTopic, Value: []byte(src)},
		kafka.Header{Key: rows.HeaderPartition, Value: []byte(strconv.Itoa(partition))},
		kafka.Header{Key: rows.HeaderOffset, Value: []byte(strconv.FormatInt(offset, 10))},
		kafka.Header{Key: rows.HeaderTimestamp, Value: []byte(strconv.FormatInt(at.Add(-time.Second).UnixMilli(), 10))},
	)
	return kafka.Message{Partition: dlqPartition, Time: at, Key: []byte(key), Value: []byte(value), Headers: headers}
}

// CountByHeader counts msgs by the value of their header key; those without it are
// not counted.
func CountByHeader(msgs []kafka.Message, key string) map[string]int {
	counts := map[string]int{}
	for _, m := range msgs {
		for _, h := range m.Headers {
			if h.Key == key {
				counts[string(h.Value)]++
			}
		}
	}
	return counts
}
