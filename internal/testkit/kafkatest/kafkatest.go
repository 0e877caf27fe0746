// Package kafkatest creates the Kafka topics of tests on the local stack, writes
// to them and reads them back, and reads a group's offsets.
package kafkatest

import (
	"context"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
)

// ReadAll returns every message of every partition of topic, from the first offset to
// the last at the time of the call, and the topic's partition count.
func ReadAll(ctx context.Context, t testing.TB, brokers []string, topic string) (msgs []kafka.Message, partitions int) {
	t.Helper()
	// A transport of its own: kafka-go's shared default one answers metadata from a
	// cache that does not know a topic another client created a moment ago.
	transport := &kafka.Transport{}
	defer transport.CloseIdleConnections()
	client := &kafka.Client{Addr: kafka.TCP(brokers...), Transport: transport}
	meta, err := client.Metadata(ctx, &kafka.MetadataRequest{Topics: []string{topic}})
	if err != nil {
		t.Fatalf("reading metadata of topic %s: %v", topic, err)
	}
	if len(meta.Topics) != 1 || meta.Topics[0].Error != nil {
		t.Fatalf("topic %s not found: %+v", topic, meta.Topics)
	}
	for _, p := range meta.Topics[0].Partitions {
		msgs = append(msgs, readPartition(ctx, t, brokers[0], topic, p.ID)...)
	}
	return msgs, len(meta.Topics[0].Partitions)
}

func readPartition(ctx context.Context, t testing.TB, broker, topic string, partition int) []kafka.Message {
	t.Helper()
	conn, err := kafka.DialLeader(ctx, "tcp", broker, topic, partition)
	if err != nil {
		t.Fatalf("dialing the leader of %s/%d: %v", topic, partition, err)
	}
	first, last, err := conn.ReadOffsets()
	_ = conn.Close()
	if err != nil {
		t.Fatalf("reading offsets of %s/%d: %v", topic, partition, err)
	}
	r := kafka.NewReader(kafka.ReaderConfig{Brokers: []string{broker}, Topic: topic, Partition: partition, MaxWait: 100 * time.Millisecond})
	defer r.Close()
	if err := r.SetOffset(first); err != nil {
		t.Fatalf("seeking %s/%d: %v", topic, partition, err)
	}
	msgs := make([]kafka.Message, 0, last-first)
	for range last - first {
		m, err := r.ReadMessage(ctx)
		if err != nil {
			t.Fatalf("reading %s/%d: %v", topic, partition, err)
		}
		msgs = append(msgs, m)
	}
	return msgs
}
