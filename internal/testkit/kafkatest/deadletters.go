package kafkatest

import (
	"context"
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
	m := kafka.Message{Topic: src, Partition: partition, Offset: offset, Key: []byte(key), Value: []byte(value),
		Headers: append([]kafka.Header{{Key: "trace", Value: []byte("abc")}}, extra...), Time: at.Add(-time.Second)}
	dl := rows.DeadLetter(m, rows.Invalid(reason, "what is wrong"))
	dl.Partition, dl.Time = dlqPartition, at
	return dl
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
