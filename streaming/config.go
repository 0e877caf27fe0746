package streaming

import (
	"cmp"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"strings"
	"time"

	gocql "github.com/apache/cassandra-gocql-driver/v2"
)

// Defaults of Config. The batch size and wait come from BenchmarkPipeline on a
// 2-core box: 2000 rows drain a full topic at ~0.9 of the raw gocql ceiling within
// 50 MB; 5000 gain little and cost ~15 MB more. A 50 ms wait keeps p99 latency at
// 1,000 records/s under 100 ms.
const (
	DefaultGroupID        = "streampipe-streaming"
	DefaultBatchRows      = 2000
	DefaultBatchWait      = 50 * time.Millisecond
	DefaultConcurrency    = 96
	DefaultMaxRecordBytes = 1 << 20
	DefaultConsistency    = "LOCAL_QUORUM"
	DefaultReplication    = "{'class': 'SimpleStrategy', 'replication_factor': 1}"
	DefaultStartupTimeout = 2 * time.Minute
	DefaultDrainTimeout   = 30 * time.Second
)

// Config is everything a Worker needs. Zero values mean the default stated beside
// each field; Brokers, Topic, Hosts, Keyspace and Table are required.
type Config struct {
	Brokers  []string // Kafka bootstrap brokers, host:port
	Topic    string   // the topic to consume
	DLQTopic string   // dead-letter topic; default Topic + ".dlq"
	GroupID  string   // consumer group; default DefaultGroupID

	Hosts       []string // Cassandra contact points, host or host:port
	Keyspace    string   // created if missing
	Table       string   // created if missing, upgraded by adding missing columns
	Username    string   // empty: no authentication
	Password    string
	Consistency string // write consistency level; default DefaultConsistency
	Replication string // CQL replication map for a new keyspace; default DefaultReplication

	BatchRows      int           // most records in a micro-batch; default DefaultBatchRows
	BatchWait      time.Duration // longest wait after a batch's first record; default DefaultBatchWait
	Concurrency    int           // most Cassandra writes in flight; default DefaultConcurrency
	MaxRecordBytes int           // larger values go to the DLQ; default DefaultMaxRecordBytes
	StartupTimeout time.Duration // how long to retry while Cassandra is unreachable; default DefaultStartupTimeout
	DrainTimeout   time.Duration // how long a shutdown may take to finish its batch; default DefaultDrainTimeout

	Logger *slog.Logger // default slog.Default()
}

var identifier = regexp.MustCompile(`^[a-z][a-z0-9_]{0,47}$`)

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
	c.Keyspace, c.Table = strings.ToLower(c.Keyspace), strings.ToLower(c.Table)
	for _, id := range [][2]string{{"keyspace", c.Keyspace}, {"table", c.Table}} {
		if !identifier.MatchString(id[1]) {
			errs = append(errs, fmt.Errorf("cassandra %s %q: want a letter, then letters, digits or _ (at most 48)", id[0], id[1]))
		}
	}
	c.DLQTopic = cmp.Or(c.DLQTopic, c.Topic+".dlq")
	c.GroupID = cmp.Or(c.GroupID, DefaultGroupID)
	c.Consistency = strings.ToUpper(cmp.Or(c.Consistency, DefaultConsistency))
	if _, err := gocql.ParseConsistencyWrapper(c.Consistency); err != nil {
		errs = append(errs, fmt.Errorf("cassandra consistency %q: want ONE, QUORUM, LOCAL_QUORUM or another level gocql knows", c.Consistency))
	}
	c.Replication = cmp.Or(c.Replication, DefaultReplication)
	if r := strings.TrimSpace(c.Replication); !strings.HasPrefix(r, "{") || !strings.HasSuffix(r, "}") {
		errs = append(errs, fmt.Errorf("cassandra replication %q: want a CQL map such as %s", c.Replication, DefaultReplication))
	}
	for _, d := range []struct {
		name string
		v    *int
		def  int
	}{{"batch rows", &c.BatchRows, DefaultBatchRows}, {"concurrency", &c.Concurrency, DefaultConcurrency}, {"max record bytes", &c.MaxRecordBytes, DefaultMaxRecordBytes}} {
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
