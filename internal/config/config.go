// Package config reads the producer programs' settings from the environment, with the
// names and defaults of DESIGN.md. Only mains call it; library packages take the
// values they need as arguments.
package config

import (
	"log/slog"
	"strings"
	"time"

	"github.com/streampipe/streampipe/activities"
	"github.com/streampipe/streampipe/internal/envvar"
)

// Producer is the configuration of the worker and the starter.
type Producer struct {
	// TemporalAddress is TEMPORAL_ADDRESS, default localhost:7233.
	TemporalAddress string
	// TemporalNamespace is TEMPORAL_NAMESPACE, default "default".
	TemporalNamespace string
	// TaskQueue is TEMPORAL_TASK_QUEUE, default user-automation.
	TaskQueue string
	// ScheduleID is TEMPORAL_SCHEDULE_ID, default user-automation.
	ScheduleID string
	// WebUIURL is TEMPORAL_UI_URL, the Temporal Web UI that links point at, default
	// http://localhost:8233 (the local stack; the compose stack serves it on 8080).
	WebUIURL string
	// KafkaTopic is KAFKA_TOPIC, the topic of runs started by the schedule or the
	// starter, default users_created.
	KafkaTopic string
	// Activities holds KAFKA_BROKERS (default localhost:9092),
	// KAFKA_TOPIC_PARTITIONS (3), KAFKA_TOPIC_REPLICATION_FACTOR (1),
	// KAFKA_BATCH_TIMEOUT (5ms), KAFKA_BATCH_SIZE (1000), RANDOMUSER_URL
	// (https://randomuser.me/api/) and RANDOMUSER_TIMEOUT (5s).
	Activities activities.Config
	// LogLevel is LOG_LEVEL: debug, info, warn or error; default info.
	LogLevel slog.Level
	// MetricsAddr is WORKER_METRICS_ADDR, where the worker serves /metrics and
	// /healthz, default :9101; "off" serves nothing.
	MetricsAddr string
}

// LoadProducer reads the configuration through lookup (os.LookupEnv in a main). Its
// error names every variable that has a bad value.
func LoadProducer(lookup func(string) (string, bool)) (Producer, error) {
	e := envvar.NewReader(lookup)
	c := Producer{
		TemporalAddress:   e.Str("TEMPORAL_ADDRESS", "localhost:7233"),
		TemporalNamespace: e.Str("TEMPORAL_NAMESPACE", "default"),
		TaskQueue:         e.Str("TEMPORAL_TASK_QUEUE", "user-automation"),
		ScheduleID:        e.Str("TEMPORAL_SCHEDULE_ID", "user-automation"),
		WebUIURL:          strings.TrimRight(e.Str("TEMPORAL_UI_URL", "http://localhost:8233"), "/"),
		KafkaTopic:        e.Str("KAFKA_TOPIC", "users_created"),
		Activities: activities.Config{
			KafkaBrokers:           e.List("KAFKA_BROKERS", "localhost:9092"),
			TopicPartitions:        e.Positive("KAFKA_TOPIC_PARTITIONS", 3),
			TopicReplicationFactor: e.Positive("KAFKA_TOPIC_REPLICATION_FACTOR", 1),
			BatchTimeout:           e.Duration("KAFKA_BATCH_TIMEOUT", 5*time.Millisecond),
			BatchSize:              e.Positive("KAFKA_BATCH_SIZE", 1000),
			RandomUserURL:          e.Str("RANDOMUSER_URL", "https://randomuser.me/api/"),
			RandomUserTimeout:      e.Duration("RANDOMUSER_TIMEOUT", 5*time.Second),
		},
	}
	if c.MetricsAddr = e.Str("WORKER_METRICS_ADDR", ":9101"); c.MetricsAddr == "off" {
		c.MetricsAddr = ""
	}
	if s := e.Str("LOG_LEVEL", "info"); c.LogLevel.UnmarshalText([]byte(s)) != nil {
		e.Fail("LOG_LEVEL", s, "debug, info, warn or error")
	}
	return c, e.Err()
}
