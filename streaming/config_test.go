package streaming

import (
	"strings"
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
	assert.Equal(t, DefaultGroupRows, cfg.GroupRows)
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

func TestChecks(t *testing.T) {
	tests := []struct {
		check func(string) error
		good  []string
		bad   []string
	}{
		{CheckIdentifier, []string{"created_users", "Created_Users", "k1"}, []string{"", "1k", "Bad-Name", "a b", "x" + strings.Repeat("y", 48)}},
		{CheckTopic, []string{"users_created", "users_created.dlq", "A-1"}, []string{"", ".", "..", "a b", "a/b"}},
		{CheckConsistency, []string{"ONE", "local_quorum"}, []string{"", "MOST"}},
		{CheckReplication, []string{DefaultReplication, " {} "}, []string{"", "SimpleStrategy"}},
	}
	for _, tt := range tests {
		for _, s := range tt.good {
			assert.NoError(t, tt.check(s), s)
		}
		for _, s := range tt.bad {
			err := tt.check(s)
			if assert.Error(t, err, s) {
				assert.True(t, strings.HasPrefix(err.Error(), "want "), "%q says what is wanted: %v", s, err)
			}
		}
	}
}

func TestConfigErrorsShowNamesAsGiven(t *testing.T) {
	_, err := Config{Brokers: []string{"b:9092"}, Topic: "t", Hosts: []string{"c"}, Keyspace: "ks", Table: "Bad-Name"}.withDefaults()
	assert.ErrorContains(t, err, `cassandra table "Bad-Name": want a letter`)
}

func TestCheckIsolationAndTombstones(t *testing.T) {
	for _, ok := range []string{ReadCommitted, ReadUncommitted} {
		assert.NoError(t, CheckIsolation(ok))
	}
	for _, ok := range []string{TombstonesDelete, TombstonesOff} {
		assert.NoError(t, CheckTombstones(ok))
	}
	assert.EqualError(t, CheckIsolation("READ_COMMITTED"), "want read_committed (the default) or read_uncommitted")
	assert.EqualError(t, CheckTombstones("on"), "want delete (the default) or off")
}
