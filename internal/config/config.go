// Package config reads the producer programs' settings — the worker's and the
// starter's — from the environment. Only mains call it; library packages take the
// values they need as arguments.
package config

import (
	"log/slog"
	"maps"
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

// Help says what each variable the producer programs read means, for their usage.
var Help = withKafkaSecurityHelp(withTableHelp(map[string]string{
	"TEMPORAL_CONFIG_FILE":                   "Temporal's TOML profiles file, the temporal CLI's; unset: its default path, if the file exists",
	"TEMPORAL_PROFILE":                       `profile of that file to use; unset: "default", if there is one`,
	"TEMPORAL_ADDRESS":                       "Temporal frontend host:port (over the profile's address)",
	"TEMPORAL_NAMESPACE":                     "Temporal namespace (over the profile's)",
	"TEMPORAL_API_KEY":                       "API key, sent as the bearer token; turns TLS on (TEMPORAL_TLS=false with it is refused)",
	"TEMPORAL_API_KEY_FILE":                  "a file holding TEMPORAL_API_KEY instead (a Docker or Kubernetes secret)",
	"TEMPORAL_TLS":                           "true: connect with TLS (the system's CAs unless a CA is given); false: plaintext",
	"TEMPORAL_TLS_CLIENT_CERT_PATH":          "client certificate (PEM) for mutual TLS",
	"TEMPORAL_TLS_CLIENT_KEY_PATH":           "the client certificate's private key (PEM)",
	"TEMPORAL_TLS_SERVER_CA_CERT_PATH":       "CA certificate(s) (PEM) that signed the server's certificate",
	"TEMPORAL_TLS_SERVER_NAME":               "name the server's certificate must carry, when not the address's host",
	"TEMPORAL_TLS_DISABLE_HOST_VERIFICATION": "true: do not check the server's certificate; refused unless TEMPORAL_TLS_INSECURE_SKIP_VERIFY=1",
	"TEMPORAL_TLS_INSECURE_SKIP_VERIFY":      "1: do not check the server's certificate, warned at every start (tests only)",
	"TEMPORAL_TASK_QUEUE":                    "task queue of the worker",
	"TEMPORAL_SCHEDULE_ID":                   "id of the daily schedule",
	"TEMPORAL_UI_URL":                        "Temporal Web UI, for links",
	"KAFKA_TOPIC":                            "topic of users runs",
	"CASSANDRA_HOSTS":                        "Cassandra contact points, host or host:port,… (starter verify)",
	"CASSANDRA_USERNAME":                     "Cassandra user; unset: no authentication (starter verify)",
	"CASSANDRA_PASSWORD":                     "the user's password (starter verify)",
	"CASSANDRA_USERNAME_FILE":                "a file holding CASSANDRA_USERNAME instead (a Docker or Kubernetes secret)",
	"CASSANDRA_PASSWORD_FILE":                "a file holding CASSANDRA_PASSWORD instead (a Docker or Kubernetes secret)",
	"CASSANDRA_TLS":                          "1: speak TLS to Cassandra, verifying its certificate (starter verify)",
	"CASSANDRA_TLS_CA_FILE":                  "PEM file of the CA certificates to trust for Cassandra's; unset: the system's",
	"CASSANDRA_TLS_CERT_FILE":                "PEM client certificate for mutual TLS, with CASSANDRA_TLS_KEY_FILE",
	"CASSANDRA_TLS_KEY_FILE":                 "PEM private key of CASSANDRA_TLS_CERT_FILE",
	"CASSANDRA_TLS_SERVER_NAME":              "the name Cassandra's certificate must hold; unset: the host dialled",
	"CASSANDRA_LOCAL_DC":                     "the data centre to read in (DC-aware routing); unset: any (starter verify)",
	"KAFKA_BROKERS":                          "Kafka bootstrap brokers, host:port,…",
	"KAFKA_TOPIC_PARTITIONS":                 "partitions of a topic the worker creates",
	"KAFKA_TOPIC_REPLICATION_FACTOR":         "replication factor of a topic the worker creates",
	"KAFKA_BATCH_TIMEOUT":                    "longest wait to fill a produce batch",
	"KAFKA_BATCH_SIZE":                       "most records in a produce batch",
	"RANDOMUSER_URL":                         "the randomuser.me API",
	"RANDOMUSER_TIMEOUT":                     "longest randomuser.me call (at most half the interval)",
	"WORKER_METRICS_ADDR":                    `where /metrics and /healthz are served (":9101": every interface); "off" for nowhere`,
	"WORKER_ALLOWED_TOPICS":                  `topics a run may publish to besides its dataset's own (a comma list; "*": any)`,
	"LOG_LEVEL":                              "debug, info, warn or error",
	"LOG_FORMAT":                             cli.LogFormatHelp,
}))

// withKafkaSecurityHelp adds the meaning of the KAFKA_TLS* and KAFKA_SASL_*
// variables (the worker only).
func withKafkaSecurityHelp(help map[string]string) map[string]string {
	maps.Copy(help, kafkasec.Help)
	return help
}

// withTableHelp adds the meaning of each dataset's keyspace and table variables.
func withTableHelp(help map[string]string) map[string]string {
	for _, name := range datasets.Names() {
		d, _ := datasets.Lookup(name)
		help[d.Vars().Keyspace] = "keyspace of the " + name + " dataset's rows (starter verify)"
		help[d.Vars().Table] = "table of the " + name + " dataset's rows (starter verify)"
	}
	return help
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
	c.Activities.KafkaBrokers = e.Addrs("KAFKA_BROKERS", "localhost:9092", true)
	c.Activities.KafkaBrokersFrom = "KAFKA_BROKERS"
	c.Activities.KafkaSecurity = kafkasec.Read(e)
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
	c.TaskQueue = e.Str("TEMPORAL_TASK_QUEUE", "user-automation")
	c.ScheduleID = e.Str("TEMPORAL_SCHEDULE_ID", "user-automation")
	c.WebUIURL = strings.TrimRight(httpURL(e, "TEMPORAL_UI_URL", "http://localhost:8233"), "/")
	c.KafkaTopic = e.Str(datasets.Users.Vars().Topic, datasets.Users.Topic)
	return c
}

func loadProducer(e *envvar.Reader) Producer {
	c := loadTemporal(e)
	c.Activities = activities.Config{
		KafkaBrokers:           e.Addrs("KAFKA_BROKERS", "localhost:9092", true),
		KafkaBrokersFrom:       "KAFKA_BROKERS",
		KafkaSecurity:          kafkasec.Read(e),
		TopicPartitions:        e.Positive("KAFKA_TOPIC_PARTITIONS", 3),
		TopicReplicationFactor: e.Positive("KAFKA_TOPIC_REPLICATION_FACTOR", 1),
		BatchTimeout:           e.Duration("KAFKA_BATCH_TIMEOUT", 5*time.Millisecond),
		BatchSize:              e.Positive("KAFKA_BATCH_SIZE", 1000),
		RandomUserURL:          httpURL(e, "RANDOMUSER_URL", "https://randomuser.me/api/"),
		RandomUserTimeout:      e.Duration("RANDOMUSER_TIMEOUT", 5*time.Second),
		DatasetTopics:          map[string]string{datasets.NameUsers: c.KafkaTopic},
		AllowedTopics:          e.List("WORKER_ALLOWED_TOPICS", ""),
	}
	c.MetricsAddr = e.ListenAddr("WORKER_METRICS_ADDR", "127.0.0.1:9101")
	if s := e.Str("LOG_LEVEL", "info"); c.LogLevel.UnmarshalText([]byte(s)) != nil {
		e.Fail("LOG_LEVEL", s, "debug, info, warn or error")
	}
	c.LogFormat = cli.ReadLogFormat(e)
	return c
}

// httpURL is the variable as an http or https URL; anything else is reported.
func httpURL(e *envvar.Reader, name, def string) string {
	s := e.Str(name, def)
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
