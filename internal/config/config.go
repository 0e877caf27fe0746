// Package config reads the producer programs' settings from the environment, with the
// names and defaults of DESIGN.md. Only mains call it; library packages take the
// values they need as arguments.
package config

import (
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/streampipe/streampipe/activities"
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
	e := env{lookup: lookup}
	c := Producer{
		TemporalAddress:   e.str("TEMPORAL_ADDRESS", "localhost:7233"),
		TemporalNamespace: e.str("TEMPORAL_NAMESPACE", "default"),
		TaskQueue:         e.str("TEMPORAL_TASK_QUEUE", "user-automation"),
		ScheduleID:        e.str("TEMPORAL_SCHEDULE_ID", "user-automation"),
		WebUIURL:          strings.TrimRight(e.str("TEMPORAL_UI_URL", "http://localhost:8233"), "/"),
		KafkaTopic:        e.str("KAFKA_TOPIC", "users_created"),
		Activities: activities.Config{
			KafkaBrokers:           e.list("KAFKA_BROKERS", "localhost:9092"),
			TopicPartitions:        e.positive("KAFKA_TOPIC_PARTITIONS", 3),
			TopicReplicationFactor: e.positive("KAFKA_TOPIC_REPLICATION_FACTOR", 1),
			BatchTimeout:           e.duration("KAFKA_BATCH_TIMEOUT", 5*time.Millisecond),
			BatchSize:              e.positive("KAFKA_BATCH_SIZE", 1000),
			RandomUserURL:          e.str("RANDOMUSER_URL", "https://randomuser.me/api/"),
			RandomUserTimeout:      e.duration("RANDOMUSER_TIMEOUT", 5*time.Second),
		},
	}
	if c.MetricsAddr = e.str("WORKER_METRICS_ADDR", ":9101"); c.MetricsAddr == "off" {
		c.MetricsAddr = ""
	}
	if s := e.str("LOG_LEVEL", "info"); c.LogLevel.UnmarshalText([]byte(s)) != nil {
		e.fail("LOG_LEVEL", s, "debug, info, warn or error")
	}
	return c, errors.Join(e.errs...)
}

// env reads variables and collects what is wrong with them.
type env struct {
	lookup func(string) (string, bool)
	errs   []error
}

func (e *env) str(name, def string) string {
	if v, ok := e.lookup(name); ok && strings.TrimSpace(v) != "" {
		return strings.TrimSpace(v)
	}
	return def
}

func (e *env) list(name, def string) []string {
	var out []string
	for _, s := range strings.Split(e.str(name, def), ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

func (e *env) positive(name string, def int) int {
	s := e.str(name, strconv.Itoa(def))
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 {
		e.fail(name, s, "a positive whole number")
		return def
	}
	return n
}

func (e *env) duration(name string, def time.Duration) time.Duration {
	s := e.str(name, def.String())
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		e.fail(name, s, `a positive duration such as "5ms" or "2s"`)
		return def
	}
	return d
}

func (e *env) fail(name, value, want string) {
	e.errs = append(e.errs, fmt.Errorf("%s=%q: want %s", name, value, want))
}
