package main

import (
	"flag"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/streampipe/streampipe/internal/config"
)

// The dead-letter topic is the dataset's, the users one following KAFKA_TOPIC,
// unless -dlq-topic names one.
func TestDLQTopicFollowsTheDataset(t *testing.T) {
	for _, tt := range []struct {
		args []string
		want string
	}{
		{nil, "people.dlq"},
		{[]string{"-dataset", "users"}, "people.dlq"},
		{[]string{"-dataset", "transactions"}, "incoming_finance_data.dlq"},
		{[]string{"-dataset", "registered_users", "-dlq-topic", "mine"}, "mine"},
	} {
		cfg := config.Producer{KafkaTopic: "people"}
		fs := flag.NewFlagSet("t", flag.ContinueOnError)
		_, topic := dlqTopicFlags(fs, &cfg)
		require.NoError(t, fs.Parse(tt.args))
		assert.Equal(t, tt.want, topic(), "%v", tt.args)
	}
}
