package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/streampipe/streampipe/internal/config"
	"github.com/streampipe/streampipe/internal/testkit/cutovertest"
	"github.com/streampipe/streampipe/internal/testkit/kafkatest"
	"github.com/streampipe/streampipe/internal/testkit/stacktest"
)

// Without -execute the cut-over prints the offsets and the lag and commits
// nothing; it refuses to execute while the checkpoint is fresh (the query may run)
// or a Spark consumer group reads the topic; then -execute commits; a second one is
// refused (exit 1), naming the group and -force.
func TestCutoverCommand(t *testing.T) {
	stacktest.Needs(t, stacktest.NeedsKafka)
	cfg, err := config.LoadStarter(func(string) (string, bool) { return "", false })
	require.NoError(t, err)
	brokers := stacktest.KafkaBrokers(t)
	cfg.Activities.KafkaBrokers = brokers
	cfg.KafkaTopic = fmt.Sprintf("cutover_starter_%d", time.Now().UnixNano())
	group := cfg.KafkaTopic + "-group"
	kafkatest.CreateTopic(t, brokers, cfg.KafkaTopic, 2)
	var msgs []kafka.Message
	for i := range 20 {
		msgs = append(msgs, kafka.Message{Partition: i % 2, Value: []byte("{}")})
	}
	kafkatest.Produce(t, brokers, cfg.KafkaTopic, msgs)
	dir := cutovertest.Checkpoint(t, []cutovertest.Offsets{{cfg.KafkaTopic: {0: 3, 1: 7}}}, nil)
	run := func(args ...string) (string, string, error) {
		var stdout, stderr bytes.Buffer
		err := dispatch(context.Background(), append([]string{"cutover", "-spark-checkpoint", dir, "-group", group}, args...),
			cfg, nil, &stdout, &stderr)
		return stdout.String(), stderr.String(), err
	}
	c := &kafka.Client{Addr: kafka.TCP(brokers...), Timeout: 10 * time.Second}
	committed := func() map[int]int64 { return kafkatest.Committed(t, c, cfg.KafkaTopic, group) }

	// A checkpoint written a moment ago: the query may still run.
	stdout, _, err := run()
	require.NoError(t, err, "the plan is shown")
	assert.Contains(t, stdout, "Plan only: nothing committed. Run again with -execute to commit these offsets.")
	assert.Contains(t, stdout, "-execute would be refused now: cut-over refused: the Spark query wrote its checkpoint "+dir)
	_, _, err = run("-execute")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "less than 2m0s (-spark-quiet): it may still run")
	assert.Equal(t, map[int]int64{0: -1, 1: -1}, committed())

	cutovertest.Stop(t, dir, time.Hour)
	stdout, _, err = run()
	require.NoError(t, err)
	t.Logf("plan:\n%s", stdout)
	assert.Regexp(t, `(?m)^\s+0\s+0\s+3\s+none\s+10\s+7\s*$`, stdout)
	assert.Regexp(t, `(?m)^\s+1\s+0\s+7\s+none\s+10\s+3\s*$`, stdout)
	assert.Regexp(t, `(?m)^\s*total\s+10\s*$`, stdout)
	assert.Contains(t, stdout, "Plan only: nothing committed.")
	assert.NotContains(t, stdout, "would be refused")
	assert.Equal(t, map[int]int64{0: -1, 1: -1}, committed())

	// A Spark consumer group with a live member on the topic: the query runs.
	spark := kafka.NewReader(kafka.ReaderConfig{Brokers: brokers, Topic: cfg.KafkaTopic, StartOffset: kafka.FirstOffset,
		GroupID: "spark-kafka-source-" + cfg.KafkaTopic + "-driver-0"})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_, err = spark.FetchMessage(ctx) // it has joined
	require.NoError(t, err)
	_, _, err = run("-execute")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "consumer group spark-kafka-source-"+cfg.KafkaTopic+"-driver-0 has a live member reading topic "+
		cfg.KafkaTopic)
	assert.Equal(t, map[int]int64{0: -1, 1: -1}, committed())
	require.NoError(t, spark.Close())

	stdout, _, err = run("-execute")
	require.NoError(t, err)
	assert.Contains(t, stdout, "Committed: group "+group+" starts at these offsets, 10 records behind.")
	assert.Equal(t, map[int]int64{0: 3, 1: 7}, committed())

	_, _, err = run("-execute")
	require.Error(t, err)
	assert.NotErrorIs(t, err, errUsage, "a refusal exits 1")
	assert.Contains(t, err.Error(), "cut-over refused: group "+group+" already has offsets of topic "+cfg.KafkaTopic)

	garbled := filepath.Join(dir, "offsets", "0")
	require.NoError(t, os.WriteFile(garbled, []byte("v1\n{}\n{\"oops\""), 0o644))
	_, stderr, err := run()
	require.ErrorIs(t, err, errUsage)
	assert.Contains(t, stderr, garbled+" line 3: not a Kafka source's offsets")
}
