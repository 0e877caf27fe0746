package kafkatest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/streampipe/streampipe/internal/dlq"
	"github.com/streampipe/streampipe/internal/kafkasec"
)

// NewTopic creates the topic cfg describes through c (a ReplicationFactor of 0: one
// replica), failing the test on an error, the topic's existing too.
func NewTopic(t testing.TB, c *kafka.Client, cfg kafka.TopicConfig) {
	t.Helper()
	if cfg.ReplicationFactor == 0 {
		cfg.ReplicationFactor = 1
	}
	res, err := c.CreateTopics(context.Background(), &kafka.CreateTopicsRequest{Topics: []kafka.TopicConfig{cfg}})
	if err == nil {
		err = res.Errors[cfg.Topic]
	}
	if err != nil {
		t.Fatalf("creating topic %s: %v", cfg.Topic, err)
	}
}

// CreateTopic creates topic with partitions partitions on the Kafka at brokers, and
// deletes it when the test ends.
func CreateTopic(t testing.TB, brokers []string, topic string, partitions int) {
	t.Helper()
	c := &kafka.Client{Addr: kafka.TCP(brokers...), Timeout: 10 * time.Second}
	NewTopic(t, c, kafka.TopicConfig{Topic: topic, NumPartitions: partitions})
	t.Cleanup(func() {
		_, _ = c.DeleteTopics(context.Background(), &kafka.DeleteTopicsRequest{Topics: []string{topic}})
	})
}

// GroupOffsets returns, by partition of topic, the topic's end offset and group's
// committed offset (-1: none). An answer of a Kafka in passage (see settling) is
// asked again, for up to settleWait.
func GroupOffsets(ctx context.Context, c *kafka.Client, topic, group string) (end, committed map[int]int64, err error) {
	end, committed, _, err = groupOffsets(ctx, c, topic, group)
	return end, committed, err
}

// groupOffsets is GroupOffsets, with the answers of a Kafka in passage that it
// waited out.
func groupOffsets(ctx context.Context, c *kafka.Client, topic, group string) (end, committed map[int]int64, waited []error, err error) {
	waited, err = kafkasec.Settle(ctx, func() error {
		end, committed, err = groupOffsetsOnce(ctx, c, topic, group)
		return err
	})
	return end, committed, waited, err
}

func groupOffsetsOnce(ctx context.Context, c *kafka.Client, topic, group string) (end, committed map[int]int64, err error) {
	ranges, err := dlq.Ranges(ctx, c, topic)
	if err != nil {
		return nil, nil, err
	}
	end = map[int]int64{}
	parts := make([]int, 0, len(ranges))
	for _, r := range ranges {
		end[r.Partition] = r.To
		parts = append(parts, r.Partition)
	}
	res, err := c.OffsetFetch(ctx, &kafka.OffsetFetchRequest{GroupID: group, Topics: map[string][]int{topic: parts}})
	if err == nil {
		err = res.Error // e.g. NOT_COORDINATOR just after a restart
	}
	if err != nil {
		return nil, nil, fmt.Errorf("reading the offsets of group %s: %w", group, err)
	}
	committed = map[int]int64{}
	for _, p := range res.Topics[topic] {
		if p.Error != nil {
			return nil, nil, fmt.Errorf("reading the offset of group %s on %s partition %d: %w", group, topic, p.Partition, p.Error)
		}
		committed[p.Partition] = p.CommittedOffset
	}
	return end, committed, nil
}

// Committed returns group's committed offsets of topic by partition (-1: none),
// failing the test on an error.
func Committed(t testing.TB, c *kafka.Client, topic, group string) map[int]int64 {
	t.Helper()
	_, committed, err := GroupOffsets(context.Background(), c, topic, group)
	if err != nil {
		t.Fatalf("reading the offsets of group %s on topic %s: %v", group, topic, err)
	}
	return committed
}
