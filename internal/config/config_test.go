package config

import (
	"log/slog"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/streampipe/streampipe/activities"
	"github.com/streampipe/streampipe/internal/cli"
	"github.com/streampipe/streampipe/internal/testkit/configref"
)

func lookup(vars map[string]string) func(string) (string, bool) {
	return func(name string) (string, bool) {
		v, ok := vars[name]
		return v, ok
	}
}

func TestLoadProducerDefaults(t *testing.T) {
	c, err := LoadProducer(lookup(nil))
	require.NoError(t, err)
	assert.Equal(t, Producer{
		TemporalAddress:   "localhost:7233",
		TemporalNamespace: "default",
		TaskQueue:         "user-automation",
		ScheduleID:        "user-automation",
		WebUIURL:          "http://localhost:8233",
		KafkaTopic:        "users_created",
		Activities: activities.Config{
			KafkaBrokers:           []string{"localhost:9092"},
			KafkaBrokersFrom:       "KAFKA_BROKERS",
			TopicPartitions:        3,
			TopicReplicationFactor: 1,
			BatchTimeout:           5 * time.Millisecond,
			BatchSize:              1000,
			RandomUserURL:          "https://randomuser.me/api/",
			RandomUserTimeout:      5 * time.Second,
			DatasetTopics:          map[string]string{"users": "users_created"},
		},
		LogLevel:    slog.LevelInfo,
		LogFormat:   cli.LogText,
		MetricsAddr: "127.0.0.1:9101",
	}, c)
}

func TestLoadProducerReadsTheEnvironment(t *testing.T) {
	c, err := LoadProducer(lookup(map[string]string{
		"TEMPORAL_ADDRESS":       "temporal:7233",
		"KAFKA_BROKERS":          "k1:9092, k2:9092,",
		"KAFKA_TOPIC_PARTITIONS": "6",
		"KAFKA_BATCH_TIMEOUT":    "20ms",
		"TEMPORAL_UI_URL":        "http://localhost:8080/",
		"LOG_LEVEL":              "debug",
		"WORKER_METRICS_ADDR":    "off",
		"KAFKA_TOPIC":            "people",
		"WORKER_ALLOWED_TOPICS":  "audit, tmp-*,",
	}))
	require.NoError(t, err)
	assert.Empty(t, c.MetricsAddr, "off serves no metrics")
	assert.Equal(t, "temporal:7233", c.TemporalAddress)
	assert.Equal(t, []string{"k1:9092", "k2:9092"}, c.Activities.KafkaBrokers)
	assert.Equal(t, 6, c.Activities.TopicPartitions)
	assert.Equal(t, 20*time.Millisecond, c.Activities.BatchTimeout)
	assert.Equal(t, "http://localhost:8080", c.WebUIURL)
	assert.Equal(t, slog.LevelDebug, c.LogLevel)
	assert.Equal(t, map[string]string{"users": "people"}, c.Activities.DatasetTopics, "KAFKA_TOPIC is the users dataset's own")
	assert.Equal(t, []string{"audit", "tmp-*"}, c.Activities.AllowedTopics, "names, not patterns: only * alone means any")
}

func TestLoadProducerNamesEveryBadVariable(t *testing.T) {
	_, err := LoadProducer(lookup(map[string]string{
		"KAFKA_TOPIC_PARTITIONS": "0",
		"RANDOMUSER_TIMEOUT":     "soon",
		"LOG_LEVEL":              "loud",
	}))
	require.Error(t, err)
	for _, want := range []string{`KAFKA_TOPIC_PARTITIONS="0"`, `RANDOMUSER_TIMEOUT="soon"`, `LOG_LEVEL="loud"`} {
		assert.Contains(t, err.Error(), want)
	}
}

func TestMalformedAddressesAreNamed(t *testing.T) {
	_, err := LoadProducer(lookup(map[string]string{
		"TEMPORAL_ADDRESS":    "localhost",
		"KAFKA_BROKERS":       "k1:9092,k2",
		"WORKER_METRICS_ADDR": "9101",
		"TEMPORAL_UI_URL":     "localhost:8233",
	}))
	require.Error(t, err)
	for _, want := range []string{`TEMPORAL_ADDRESS="localhost": want host:port`, `KAFKA_BROKERS="k1:9092,k2": want a comma list of host:port; k2 is malformed`,
		`WORKER_METRICS_ADDR="9101": want a well-formed listen address`, `TEMPORAL_UI_URL="localhost:8233": want an http:// or https:// URL`} {
		assert.Contains(t, err.Error(), want)
	}
}

// The starter reads the variables it needs, with the programs' defaults.
func TestStarterVariables(t *testing.T) {
	starter := map[string]string{}
	for _, v := range StarterVars() {
		starter[v.Name] = v.Default
	}
	assert.Equal(t, map[string]string{"TEMPORAL_ADDRESS": "localhost:7233", "TEMPORAL_NAMESPACE": "default",
		"TEMPORAL_CONFIG_FILE": "", "TEMPORAL_PROFILE": "", "TEMPORAL_API_KEY": "", "TEMPORAL_API_KEY_FILE": "",
		"TEMPORAL_TLS": "", "TEMPORAL_TLS_CLIENT_CERT_PATH": "", "TEMPORAL_TLS_CLIENT_KEY_PATH": "",
		"TEMPORAL_TLS_SERVER_CA_CERT_PATH": "", "TEMPORAL_TLS_SERVER_NAME": "", "TEMPORAL_TLS_DISABLE_HOST_VERIFICATION": "", "TEMPORAL_TLS_INSECURE_SKIP_VERIFY": "0",
		"TEMPORAL_TASK_QUEUE": "user-automation", "TEMPORAL_SCHEDULE_ID": "user-automation",
		"TEMPORAL_UI_URL": "http://localhost:8233", "KAFKA_TOPIC": "users_created", "LOG_FORMAT": "text", "KAFKA_BROKERS": "localhost:9092",
		"KAFKA_TLS": "0", "KAFKA_TLS_CA_FILE": "", "KAFKA_TLS_CERT_FILE": "", "KAFKA_TLS_KEY_FILE": "", "KAFKA_TLS_SERVER_NAME": "",
		"KAFKA_SASL_MECHANISM": "", "KAFKA_SASL_USERNAME": "", "KAFKA_SASL_USERNAME_FILE": "", "KAFKA_SASL_PASSWORD": "", "KAFKA_SASL_PASSWORD_FILE": "",
		"CASSANDRA_HOSTS": "localhost:9042", "CASSANDRA_USERNAME": "", "CASSANDRA_PASSWORD": "", "CASSANDRA_USERNAME_FILE": "", "CASSANDRA_PASSWORD_FILE": "",
		"CASSANDRA_TLS": "0", "CASSANDRA_TLS_CA_FILE": "", "CASSANDRA_TLS_CERT_FILE": "", "CASSANDRA_TLS_KEY_FILE": "",
		"CASSANDRA_TLS_SERVER_NAME": "", "CASSANDRA_LOCAL_DC": "",
		"CASSANDRA_KEYSPACE": "spark_streaming", "CASSANDRA_TABLE": "created_users",
		"STREAMING_REGISTERED_USERS_KEYSPACE": "my_keyspace", "STREAMING_REGISTERED_USERS_TABLE": "user_details_5",
		"STREAMING_TRANSACTIONS_KEYSPACE": "finance", "STREAMING_TRANSACTIONS_TABLE": "transactions"}, starter)
}

// docs/configuration.md's tables of the worker's and the starter's variables are
// the ones they declare, each with a meaning (`go generate ./...` writes them).
func TestConfigurationReference(t *testing.T) {
	configref.Check(t, "worker", ProducerVars())
	configref.Check(t, "starter", StarterVars())
}
