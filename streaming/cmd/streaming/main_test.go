package main

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/streampipe/streampipe/streaming"
)

// where is what a dataset's worker consumes and writes.
type where struct {
	dataset, topic, dlq, group, keyspace, table string
}

func wheres(workers []workerConfig) []where {
	var out []where
	for _, w := range workers {
		c := w.cfg
		out = append(out, where{w.dataset.Name(), c.Topic, c.DLQTopic, c.GroupID, c.Keyspace, c.Table})
	}
	return out
}

func TestDatasetsFromEnv(t *testing.T) {
	users := where{"users", "users_created", "users_created.dlq", "streampipe-streaming", "spark_streaming", "created_users"}
	registered := where{"registered_users", "registered_user_2", "registered_user_2.dlq", "streampipe-streaming-registered_users", "my_keyspace", "user_details_5"}
	transactions := where{"transactions", "incoming_finance_data", "incoming_finance_data.dlq", "streampipe-streaming-transactions", "finance", "transactions"}
	tests := []struct {
		name string
		env  map[string]string
		want []where
	}{
		{"default: users, as before", nil, []where{users}},
		{"all three", map[string]string{"STREAMING_DATASETS": "users, registered_users,transactions"},
			[]where{users, registered, transactions}},
		{"the users variables apply to users only", map[string]string{
			"STREAMING_DATASETS": "transactions,users", "KAFKA_TOPIC": "u", "KAFKA_DLQ_TOPIC": "u.dead",
			"STREAMING_GROUP": "g", "CASSANDRA_KEYSPACE": "ks", "CASSANDRA_TABLE": "tbl",
		}, []where{
			{"transactions", "incoming_finance_data", "incoming_finance_data.dlq", "g-transactions", "finance", "transactions"},
			{"users", "u", "u.dead", "g", "ks", "tbl"},
		}},
		{"a dataset's own variables", map[string]string{
			"STREAMING_DATASETS": "registered_users", "STREAMING_REGISTERED_USERS_TOPIC": "r",
			"STREAMING_REGISTERED_USERS_DLQ_TOPIC": "r.dead", "STREAMING_REGISTERED_USERS_GROUP": "rg",
			"STREAMING_REGISTERED_USERS_KEYSPACE": "rks", "STREAMING_REGISTERED_USERS_TABLE": "rt",
		}, []where{{"registered_users", "r", "r.dead", "rg", "rks", "rt"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			workers, _, _, err := configFromEnv()
			require.NoError(t, err)
			assert.Equal(t, tt.want, wheres(workers))
			for _, w := range workers {
				assert.Equal(t, []string{"localhost:9092"}, w.cfg.Brokers, "shared settings reach every dataset")
				_, err := streaming.New(w.cfg, w.dataset, nil)
				assert.NoError(t, err, "a valid worker configuration")
			}
		})
	}
}

func TestDatasetsFromEnvMistakes(t *testing.T) {
	for value, want := range map[string]string{
		"users,orders":                    `unknown dataset "orders": want a comma list of users, registered_users, transactions`,
		"transactions,users,transactions": "names transactions twice",
		" , ":                             "names no dataset",
	} {
		t.Run(value, func(t *testing.T) {
			t.Setenv("STREAMING_DATASETS", value)
			_, _, _, err := configFromEnv()
			assert.ErrorContains(t, err, want)
		})
	}
}
