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
	"github.com/streampipe/streampipe/internal/cutover/cutovertest"
	"github.com/streampipe/streampipe/internal/kafkatest"
	"github.com/streampipe/streampipe/internal/stacktest"
)

// -dry-run prints the offsets and the lag and commits nothing; the cut-over
// commits them; a second one is refused (exit 1), naming the group and -force.
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
	committed := func() map[int]int64 { return cutovertest.GroupOffsets(t, c, group, cfg.KafkaTopic, 2) }

	stdout, _, err := run("-dry-run")
	require.NoError(t, err)
	t.Logf("dry run:\n%s", stdout)
	assert.Regexp(t, `(?m)^\s+0\s+0\s+3\s+none\s+10\s+7\s*$`, stdout)
	assert.Regexp(t, `(?m)^\s+1\s+0\s+7\s+none\s+10\s+3\s*$`, stdout)
	assert.Regexp(t, `(?m)^\s*total\s+10\s*$`, stdout)
	assert.Contains(t, stdout, "Dry run: nothing committed.")
	assert.Equal(t, map[int]int64{0: -1, 1: -1}, committed())

	stdout, _, err = run()
	require.NoError(t, err)
	assert.Contains(t, stdout, "Committed: group "+group+" starts at these offsets, 10 records behind.")
	assert.Equal(t, map[int]int64{0: 3, 1: 7}, committed())

	_, _, err = run()
	require.Error(t, err)
	assert.NotErrorIs(t, err, errUsage, "a refusal exits 1")
	assert.Contains(t, err.Error(), "cut-over refused: group "+group+" already has offsets of topic "+cfg.KafkaTopic)

	garbled := filepath.Join(dir, "offsets", "0")
	require.NoError(t, os.WriteFile(garbled, []byte("v1\n{}\n{\"oops\""), 0o644))
	_, stderr, err := run("-dry-run")
	require.ErrorIs(t, err, errUsage)
	assert.Contains(t, stderr, garbled+" line 3: not a Kafka source's offsets")
}
