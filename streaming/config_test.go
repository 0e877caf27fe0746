package streaming

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestConfigDefaults(t *testing.T) {
	cfg, err := Config{Brokers: []string{"b:9092"}, Topic: "users_created", Hosts: []string{"c"},
		Keyspace: "Spark_Streaming", Table: "created_users", Consistency: "one"}.withDefaults()
	require.NoError(t, err)
	assert.Equal(t, "users_created.dlq", cfg.DLQTopic)
	assert.Equal(t, DefaultGroupID, cfg.GroupID)
	assert.Equal(t, "spark_streaming", cfg.Keyspace)
	assert.Equal(t, "ONE", cfg.Consistency)
	assert.Equal(t, DefaultBatchRows, cfg.BatchRows)
	assert.Equal(t, DefaultBatchWait, cfg.BatchWait)
	assert.NotNil(t, cfg.Logger)
}

func TestConfigErrors(t *testing.T) {
	_, err := Config{Keyspace: "drop table x;", Table: "t", Consistency: "MOST", BatchRows: -1,
		Replication: "SimpleStrategy"}.withDefaults()
	require.Error(t, err)
	for _, want := range []string{"no kafka brokers", "no kafka topic", "no cassandra hosts",
		`keyspace "drop table x;"`, `consistency "MOST"`, `replication "SimpleStrategy"`, "batch rows -1"} {
		assert.ErrorContains(t, err, want)
	}
}
