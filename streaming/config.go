package streaming

import (
	"cmp"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	gocql "github.com/apache/cassandra-gocql-driver/v2"

	"github.com/streampipe/streampipe/internal/kafkasec"
	"github.com/streampipe/streampipe/rows"
)

// Defaults of Config, from BenchmarkWorkerVariants and BenchmarkLatencyVariants on
// a 2-core box (docs/performance.md). Micro-batches of 1000 rows drain a full topic
// as fast as 2000 with less memory; 500 and 5000 are slower. No wait: a batch is what
// was fetched while the previous one was written, which at 1,000 records/s takes the
// 50 ms a fixed wait added to every record off its latency. Batches of rows of one
// replica set drain faster than single rows at half the CPU per row; 10 to 100 rows
// are alike within the noise of a shared box, and 5 KiB keeps Cassandra from logging
// a warning per batch. The byte budget is sized so that a worker's RSS stays under
// 64 MiB with records as large as DefaultMaxRecordBytes
// (TestMemoryHugeRecordsAndBombs).
const (
	DefaultGroupID     = "streampipe-streaming"
	DefaultBatchRows   = 1000
	DefaultBatchWait   = time.Duration(0)
	DefaultConcurrency = 96
	DefaultGroupRows   = 25
	// DefaultGroupBytes keeps a batch under Cassandra's batch_size_warn_threshold
	// (5 KiB by default), over which it logs a warning for every batch; a record's
	// bytes bound its row's mutation, which has no field names.
	DefaultGroupBytes     = 5 << 10
	DefaultMaxRecordBytes = 1 << 20
	DefaultMaxBufferBytes = 8 << 20
	DefaultConsistency    = "LOCAL_QUORUM"
	DefaultReplication    = "{'class': 'SimpleStrategy', 'replication_factor': 1}"
	DefaultStartupTimeout = 2 * time.Minute
	DefaultDrainTimeout   = 30 * time.Second
)

// Config is everything a Worker needs. Zero values mean the default stated beside
// each field; Brokers, Topic, Hosts, Keyspace and Table are required.
type Config struct {
	Brokers     []string           // Kafka bootstrap brokers, host:port
	BrokersFrom string             // where Brokers were set, for messages (e.g. "KAFKA_BROKERS"); default none
	Security    *kafkasec.Security // how the Kafka clients connect (TLS, SASL); default nil: plaintext
	Topic       string             // the topic to consume
	DLQTopic    string             // dead-letter topic; default Topic + ".dlq"
	GroupID     string             // consumer group; default DefaultGroupID
	// ReadUncommitted also takes the records of open and aborted transactions; by
	// default (read_committed) the worker reads only committed ones, as Kafka
	// Streams and Flink do. Transaction markers are never records (package fetchcut).
	ReadUncommitted bool
	// KeepTombstones dead-letters a record with a key and a null value, as any
	// record that is no row; by default it deletes its row where the dataset's rows
	// are named by the key (rows.Tombstoner).
	KeepTombstones bool

	Hosts       []string // Cassandra contact points, host or host:port
	HostsFrom   string   // where Hosts were set, for messages (e.g. "CASSANDRA_HOSTS"); default none
	Keyspace    string   // created if missing
	Table       string   // created if missing, upgraded by adding missing columns
	Username    string   // empty: no authentication
	Password    string
	TLS         *tls.Config // nil: plaintext; the server's certificate is always verified
	LocalDC     string      // the data centre to write to; empty: any (no DC-aware routing)
	Consistency string      // write consistency level; default DefaultConsistency
	Replication string      // CQL replication map for a new keyspace; default DefaultReplication

	BatchRows      int           // most records in a micro-batch; default DefaultBatchRows
	BatchWait      time.Duration // longest wait after a batch's first record; default DefaultBatchWait (0: take what is fetched already)
	Concurrency    int           // most Cassandra writes (batches) in flight; default DefaultConcurrency
	GroupRows      int           // most rows in one Cassandra batch (rows of one replica set); default DefaultGroupRows; 1: no batches
	GroupBytes     int           // most bytes of records (keys, values, headers) in one Cassandra batch; default DefaultGroupBytes
	MaxRecordBytes int           // larger values go to the DLQ; default DefaultMaxRecordBytes
	MaxBufferBytes int           // most bytes of records held between fetch and the end of their batch; default DefaultMaxBufferBytes
	StartupTimeout time.Duration // how long start-up retries while Cassandra, then Kafka, is unreachable (each); default DefaultStartupTimeout
	DrainTimeout   time.Duration // how long a shutdown may take to finish its batch; default DefaultDrainTimeout

	Logger *slog.Logger // default slog.Default()
}

// CheckConsistency, CheckIsolation and CheckReplication (as rows.CheckIdentifier and
// rows.CheckTopic for names) say what is wrong with a consistency level, an isolation
// level or a replication map, in words that start with "want": a main checks its settings with
// them to report each under its own name, and New checks the Config with them again.

// CheckConsistency checks a write consistency level, in any case.
func CheckConsistency(s string) error {
	if _, err := gocql.ParseConsistencyWrapper(strings.ToUpper(s)); err != nil {
		return errors.New("want ONE, QUORUM, LOCAL_QUORUM or another level gocql knows")
	}
	return nil
}

// Isolation levels, the values of STREAMING_ISOLATION.
const (
	ReadCommitted   = "read_committed"
	ReadUncommitted = "read_uncommitted"
)

// CheckIsolation checks an isolation level.
func CheckIsolation(s string) error { return eitherOf(s, ReadCommitted, ReadUncommitted) }

// Tombstone handlings, the values of STREAMING_TOMBSTONES.
const (
	TombstonesDelete = "delete"
	TombstonesOff    = "off"
)

// CheckTombstones checks a tombstone handling.
func CheckTombstones(s string) error { return eitherOf(s, TombstonesDelete, TombstonesOff) }

// eitherOf checks that s is def or other.
func eitherOf(s, def, other string) error {
	if s != def && s != other {
		return fmt.Errorf("want %s (the default) or %s", def, other)
	}
	return nil
}

// CheckReplication checks a CQL replication map, roughly: Cassandra says the rest.
func CheckReplication(s string) error {
	if r := strings.TrimSpace(s); !strings.HasPrefix(r, "{") || !strings.HasSuffix(r, "}") {
		return fmt.Errorf("want a CQL map such as %s", DefaultReplication)
	}
	return nil
}

// kafkaAt names the brokers in messages: "kafka at host:9092 (KAFKA_BROKERS)".
func (c Config) kafkaAt() string { return at("kafka", c.Brokers, c.BrokersFrom) }

// cassandraAt names the hosts in messages: "cassandra at host:9042 (CASSANDRA_HOSTS)".
func (c Config) cassandraAt() string { return at("cassandra", c.Hosts, c.HostsFrom) }

func at(server string, addrs []string, from string) string {
	return named(server+" at "+strings.Join(addrs, ","), from)
}

// named adds the variable a setting came from, if known: "kafka (KAFKA_BROKERS)".
func named(s, from string) string {
	if from != "" {
		s += " (" + from + ")"
	}
	return s
}

// server is something the worker waits for, named twice: at, with its addresses, for
// errors and the log ("kafka at host:9092 (KAFKA_BROKERS)"), and public, without
// them, for /healthz, which anyone who reaches its port reads ("kafka
// (KAFKA_BROKERS)").
type server struct{ at, public string }

// kafkaServer, cassandraServer and dlqServer are what the worker's outages and
// start-up wait for; "Server", as Worker.kafka and Worker.cassandra are the outages
// themselves and dlq is Run's dead-letter writer.
func (c Config) kafkaServer() server { return server{c.kafkaAt(), named("kafka", c.BrokersFrom)} }

func (c Config) cassandraServer() server {
	return server{c.cassandraAt(), named("cassandra", c.HostsFrom)}
}

// dlqServer is the dead-letter topic, which the worker waits for when Kafka refuses it.
func (c Config) dlqServer() server {
	topic := "dead-letter topic " + c.DLQTopic
	return server{topic + " on " + c.kafkaAt(), topic}
}

// withDefaults returns c with defaults filled in, or an error naming every field
// that is wrong.
func (c Config) withDefaults() (Config, error) {
	var errs []error
	if len(c.Brokers) == 0 {
		errs = append(errs, errors.New("no kafka brokers"))
	}
	if c.Topic == "" {
		errs = append(errs, errors.New("no kafka topic"))
	}
	if len(c.Hosts) == 0 {
		errs = append(errs, errors.New("no cassandra hosts"))
	}
	for _, id := range [][2]string{{"keyspace", c.Keyspace}, {"table", c.Table}} {
		if err := rows.CheckIdentifier(id[1]); err != nil {
			errs = append(errs, fmt.Errorf("cassandra %s %q: %w", id[0], id[1], err))
		}
	}
	c.Keyspace, c.Table = strings.ToLower(c.Keyspace), strings.ToLower(c.Table)
	c.DLQTopic = cmp.Or(c.DLQTopic, rows.DeadLetterTopic(c.Topic))
	for _, t := range [][2]string{{"topic", c.Topic}, {"dead-letter topic", c.DLQTopic}} {
		if err := rows.CheckTopic(t[1]); c.Topic != "" && err != nil { // no topic is reported above
			errs = append(errs, fmt.Errorf("kafka %s %q: %w", t[0], t[1], err))
		}
	}
	c.GroupID = cmp.Or(c.GroupID, DefaultGroupID)
	c.Consistency = strings.ToUpper(cmp.Or(c.Consistency, DefaultConsistency))
	if err := CheckConsistency(c.Consistency); err != nil {
		errs = append(errs, fmt.Errorf("cassandra consistency %q: %w", c.Consistency, err))
	}
	c.Replication = cmp.Or(c.Replication, DefaultReplication)
	if err := CheckReplication(c.Replication); err != nil {
		errs = append(errs, fmt.Errorf("cassandra replication %q: %w", c.Replication, err))
	}
	for _, d := range []struct {
		name string
		v    *int
		def  int
	}{{"batch rows", &c.BatchRows, DefaultBatchRows}, {"concurrency", &c.Concurrency, DefaultConcurrency},
		{"group rows", &c.GroupRows, DefaultGroupRows}, {"group bytes", &c.GroupBytes, DefaultGroupBytes}, {"max record bytes", &c.MaxRecordBytes, DefaultMaxRecordBytes},
		{"max buffer bytes", &c.MaxBufferBytes, DefaultMaxBufferBytes}} {
		if *d.v < 0 {
			errs = append(errs, fmt.Errorf("%s %d: want a positive number", d.name, *d.v))
		}
		*d.v = cmp.Or(*d.v, d.def)
	}
	for _, d := range []struct {
		name string
		v    *time.Duration
		def  time.Duration
	}{{"batch wait", &c.BatchWait, DefaultBatchWait}, {"startup timeout", &c.StartupTimeout, DefaultStartupTimeout}, {"drain timeout", &c.DrainTimeout, DefaultDrainTimeout}} {
		if *d.v < 0 {
			errs = append(errs, fmt.Errorf("%s %v: want a positive duration", d.name, *d.v))
		}
		*d.v = cmp.Or(*d.v, d.def)
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if len(errs) > 0 {
		return c, fmt.Errorf("streaming config: %w", errors.Join(errs...))
	}
	return c, nil
}
