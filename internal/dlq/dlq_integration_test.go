package dlq_test

import (
	"bytes"
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/streampipe/streampipe/internal/dlq"
	"github.com/streampipe/streampipe/internal/testkit/kafkatest"
	"github.com/streampipe/streampipe/internal/testkit/stacktest"
	"github.com/streampipe/streampipe/rows"
)

// deadLetter is kafkatest.DeadLetter keyed by its source coordinates.
func deadLetter(reason, src string, partition int, offset int64, dlqPartition int, t time.Time, extra ...kafka.Header) kafka.Message {
	return kafkatest.DeadLetter(reason, src, partition, offset, fmt.Sprintf("k%d-%d", partition, offset), `{"id":1}`, dlqPartition, t, extra...)
}

// TestCountReadsTheTopicsHeaders writes dead letters with known reasons, source
// partitions and times to a dead-letter topic of three partitions and counts them.
func TestCountReadsTheTopicsHeaders(t *testing.T) {
	stacktest.Needs(t, stacktest.NeedsKafka)
	brokers := stacktest.KafkaBrokers(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	topic := fmt.Sprintf("test-dlq-stats-%d", time.Now().UnixNano())
	src := topic + "-src"
	kafkatest.CreateTopic(t, brokers, topic, 3)

	base := time.Now().Add(-time.Hour).Truncate(time.Millisecond)
	var msgs []kafka.Message
	reasons := []string{"invalid_json", "invalid_json", "invalid_json", "missing_field", "missing_field", "too_large"}
	for i, r := range reasons {
		// Times out of order across partitions: the oldest is in partition 2.
		msgs = append(msgs, deadLetter(r, src, i%2, int64(100+i), i%3, base.Add(time.Duration(10-i)*time.Minute)))
	}
	msgs = append(msgs, deadLetter("missing_field", src, 1, 200, 0, base.Add(20*time.Minute),
		kafka.Header{Key: rows.HeaderReplays, Value: []byte("1")}))
	kafkatest.Produce(t, brokers, topic, msgs)

	st, err := dlq.Count(ctx, brokers, nil, topic)
	require.NoError(t, err)
	assert.Equal(t, 7, st.Total)
	assert.Equal(t, map[string]int{"invalid_json": 3, "missing_field": 3, "too_large": 1}, st.ByReason)
	assert.Equal(t, map[dlq.SourcePartition]int{{src, 0}: 3, {src, 1}: 4}, st.BySource)
	assert.Equal(t, 1, st.Replayed)
	require.NotNil(t, st.Oldest)
	assert.Equal(t, base.Add(5*time.Minute), st.Oldest.Time.Local().Truncate(0))
	assert.Equal(t, int64(105), st.Oldest.SourceOffset)
	assert.Equal(t, 2, st.Oldest.Partition)
	assert.Equal(t, int64(200), st.Newest.SourceOffset)

	var out bytes.Buffer
	st.Print(&out)
	assert.Contains(t, out.String(), "Dead letters in "+topic+": 7\n")
	assert.Regexp(t, `(?m)^  invalid_json +3$`, out.String())
	assert.Regexp(t, `(?m)^  `+src+`/1 +4$`, out.String())
	assert.Contains(t, out.String(), "Oldest: "+base.Add(5*time.Minute).UTC().Format(time.RFC3339Nano)+"  "+topic+"/2/1  from "+src+"/1/105  reason too_large")
}

func TestCountOfAMissingTopicFails(t *testing.T) {
	stacktest.Needs(t, stacktest.NeedsKafka)
	_, err := dlq.Count(context.Background(), stacktest.KafkaBrokers(t), nil, fmt.Sprintf("test-dlq-none-%d", time.Now().UnixNano()))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "test-dlq-none-")
}
