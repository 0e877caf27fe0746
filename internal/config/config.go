// Package config reads the producer programs' settings — the worker's and the
// starter's — from the environment. Only mains call it; library packages take the
// values they need as arguments.
package config

// The worker's and the starter's tables of docs/configuration.md, from the
// variables' declarations below.
//go:generate go test -run TestConfigurationReference -count=1 . -args -update

import (
	"log/slog"
	"net/url"
	"strings"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/streampipe/streampipe/activities"
	"github.com/streampipe/streampipe/datasets"
	"github.com/streampipe/streampipe/internal/cli"
	"github.com/streampipe/streampipe/internal/envvar"
	"github.com/streampipe/streampipe/internal/kafkasec"
)

// Producer is the configuration of the worker and the starter.
type Producer struct {
	// TemporalAddress is TEMPORAL_ADDRESS, else the profile's address, else
	// localhost:7233.
	TemporalAddress string
	// TemporalNamespace is TEMPORAL_NAMESPACE, else the profile's, else "default".
	TemporalNamespace string
	// TemporalOptions are the rest of Temporal's client settings, from the profile
	// of TEMPORAL_CONFIG_FILE and TEMPORAL_PROFILE and the TEMPORAL_* variables over
	// it: TLS, client certificate, API key. TemporalAddress and TemporalNamespace
	// (which the starter's flags may change) override their HostPort and Namespace.
	TemporalOptions client.Options
	// TaskQueue is TEMPORAL_TASK_QUEUE, default user-automation.
	TaskQueue string
	// ScheduleID is TEMPORAL_SCHEDULE_ID, default user-automation.
	ScheduleID string
	// WebUIURL is TEMPORAL_UI_URL, the Temporal Web UI that links point at, default
	// http://localhost:8233 (the local stack; the compose stack serves it on 8080).
	WebUIURL string
	// KafkaTopic is KAFKA_TOPIC, the topic of users runs started by the schedule or
	// the starter, default the users dataset's (users_created).
	KafkaTopic string
	// Cassandra is where `starter verify` counts a run's rows: CASSANDRA_HOSTS
	// (default localhost:9042), CASSANDRA_USERNAME, CASSANDRA_PASSWORD, CASSANDRA_TLS*,
	// CASSANDRA_LOCAL_DC and each dataset's keyspace and table variables, the
	// streaming worker's. The starter only.
	Cassandra Cassandra
	// Activities holds KAFKA_BROKERS (default localhost:9092),
	// KAFKA_TOPIC_PARTITIONS (3), KAFKA_TOPIC_REPLICATION_FACTOR (1),
	// KAFKA_BATCH_TIMEOUT (5ms), KAFKA_BATCH_SIZE (1000), RANDOMUSER_URL
	// (https://randomuser.me/api/), RANDOMUSER_TIMEOUT (5s) and WORKER_ALLOWED_TOPICS
	// (none), with KafkaTopic as the users dataset's own topic. The worker only, but
	// for KAFKA_BROKERS and the Kafka security (KAFKA_TLS*, KAFKA_SASL_*), which
	// `starter dlq stats` and `starter cutover` read too.
	Activities activities.Config
	// LogFormat is LOG_FORMAT: text (the default) or json. The worker's log, the
	// starter's warnings from the Temporal SDK.
	LogFormat cli.LogFormat
	// LogLevel is LOG_LEVEL: debug, info, warn or error; default info. The worker only.
	LogLevel slog.Level
	// Warnings are the unsafe settings taken (a password sent in plaintext, the
	// server's certificate not checked), which the program logs at every start.
	Warnings []string
	// MetricsAddr is WORKER_METRICS_ADDR, where the worker serves /metrics and
	// /healthz, default 127.0.0.1:9101 (this host only; ":9101" serves every
	// interface); "off" serves nothing. The worker only.
	MetricsAddr string
}

// LoadProducer reads the worker's configuration through lookup (os.LookupEnv in a
// main). Its error names every variable that has a bad value.
func LoadProducer(lookup func(string) (string, bool)) (Producer, error) {
	e := envvar.NewReader(lookup)
	c := loadProducer(e)
	c.Warnings = e.Warnings()
	return c, e.Err()
}

// LoadStarter reads the part of the configuration the starter uses: Temporal's
// settings, KAFKA_TOPIC and where the datasets' rows are.
func LoadStarter(lookup func(string) (string, bool)) (Producer, error) {
	e := envvar.NewReader(lookup)
	c := loadStarter(e)
	c.Warnings = e.Warnings()
	return c, e.Err()
}

// ProducerVars and StarterVars are the variables the worker and the starter read,
// with their defaults, for their usage.
func ProducerVars() []envvar.Var { return vars(func(e *envvar.Reader) { loadProducer(e) }) }

// StarterVars: see ProducerVars.
func StarterVars() []envvar.Var { return vars(func(e *envvar.Reader) { loadStarter(e) }) }

func vars(load func(*envvar.Reader)) []envvar.Var {
	e := envvar.NewReader(func(string) (string, bool) { return "", false })
	load(e)
	return e.Vars()
}

func loadStarter(e *envvar.Reader) Producer {
	c := loadTemporal(e)
	kafka := kafkasec.ReadKafka(e)
	c.Activities.KafkaBrokers, c.Activities.KafkaBrokersFrom, c.Activities.KafkaSecurity = kafka.Brokers, kafkasec.BrokersVar, kafka.Security
	c.Cassandra = Cassandra{Cassandra: e.Cassandra(), Tables: map[string]Table{}}
	for _, name := range datasets.Names() {
		d, _ := datasets.Lookup(name)
		keyspace, table := d.ReadTable(e)
		c.Cassandra.Tables[name] = Table{Keyspace: keyspace, Table: table}
	}
	c.LogFormat = cli.ReadLogFormat(e)
	return c
}

// loadTemporal reads what the worker and the starter both read.
func loadTemporal(e *envvar.Reader) Producer {
	var c Producer
	c.TemporalAddress, c.TemporalNamespace, c.TemporalOptions = loadConnection(e)
	c.TaskQueue = e.Str("TEMPORAL_TASK_QUEUE", "user-automation", "the task queue the worker polls and the starter starts runs on (flag `-task-queue`)")
	c.ScheduleID = e.Str("TEMPORAL_SCHEDULE_ID", "user-automation", "id of the users dataset's daily schedule, which the worker creates (paused) if missing; "+
		"another dataset's is `<dataset>-automation` (the starter's flag `-schedule-id`)")
	c.WebUIURL = strings.TrimRight(httpURL(e, "TEMPORAL_UI_URL", "http://localhost:8233",
		"the Temporal Web UI that the starter's links point at (flag `-ui-url`); the compose stack serves it on 8080 (the worker reads it, and does not use it)"), "/")
	users := datasets.Users
	c.KafkaTopic = e.Str(users.Vars().Topic, users.Topic, users.Meanings().Topic)
	return c
}

func loadProducer(e *envvar.Reader) Producer {
	c := loadTemporal(e)
	kafka := kafkasec.ReadKafka(e)
	c.Activities = activities.Config{
		KafkaBrokers:           kafka.Brokers,
		KafkaBrokersFrom:       kafkasec.BrokersVar,
		KafkaSecurity:          kafka.Security,
		TopicPartitions:        e.Positive("KAFKA_TOPIC_PARTITIONS", 3, "partitions of a topic the worker creates (a run creates its topic if missing)"),
		TopicReplicationFactor: e.Positive("KAFKA_TOPIC_REPLICATION_FACTOR", 1, "replication factor of a topic the worker creates"),
		BatchTimeout:           e.Duration("KAFKA_BATCH_TIMEOUT", 5*time.Millisecond, "longest wait to fill a produce batch"),
		BatchSize:              e.Positive("KAFKA_BATCH_SIZE", 1000, "most records in one produce request per partition"),
		RandomUserURL: httpURL(e, "RANDOMUSER_URL", "https://randomuser.me/api/", "the randomuser.me API of the users dataset; plain `http://` "+
			"only when this says so; redirects are refused, answers and fields are size-capped ([failure-modes.md](failure-modes.md#the-producers-randomuserme-calls))"),
		RandomUserTimeout: e.Duration("RANDOMUSER_TIMEOUT", 5*time.Second,
			"longest randomuser.me call; never more than half the tick interval; then the faker serves the tick"),
		DatasetTopics: map[string]string{datasets.NameUsers: c.KafkaTopic},
		AllowedTopics: e.List("WORKER_ALLOWED_TOPICS", "", "topics a run may publish to besides its dataset's own (`KAFKA_TOPIC` for users, "+
			"the dataset's default topic for the others), a comma list; `*`: any. A run whose input names another topic fails at once, `TopicNotAllowed`"),
	}
	c.MetricsAddr = e.ListenAddr("WORKER_METRICS_ADDR", "127.0.0.1:9101", "where /metrics and /healthz are served: this host only by default, "+
		"`:9101` for every interface (see [Operations endpoints](#operations-endpoints)); `off`: nowhere")
	if s := e.Str("LOG_LEVEL", "info", "debug, info, warn or error"); c.LogLevel.UnmarshalText([]byte(s)) != nil {
		e.Fail("LOG_LEVEL", s, "debug, info, warn or error")
	}
	c.LogFormat = cli.ReadLogFormat(e)
	return c
}

// httpURL is the variable as an http or https URL; anything else is reported.
func httpURL(e *envvar.Reader, name, def, help string) string {
	s := e.Str(name, def, help)
	if u, err := url.Parse(s); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		e.Fail(name, s, "an http:// or https:// URL")
	}
	return s
}

// Cassandra is where the datasets' rows are, as the streaming worker writes them.
type Cassandra struct {
	envvar.Cassandra
	// Tables are the tables by dataset name.
	Tables map[string]Table
}

// Table is a dataset's Cassandra table.
type Table struct{ Keyspace, Table string }
