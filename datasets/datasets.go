// Package datasets defines, once each, the datasets streampipe carries: for each its
// name, Kafka topic and dead-letter topic, Cassandra keyspace and table (columns and
// key come with its row mapping), a run's default interval and records per tick, the
// namespace of its record ids, its generator (the producer side) and its row mapping
// (the streaming side). The Temporal worker, the workflow, the starter and the
// streaming worker all look datasets up here, by name; a built-in dataset is one file
// (users.go, registered_users.go, transactions.go) that registers it with its row
// mapping (a rows.Mapping) and its generator, like a Redpanda Connect component.
package datasets

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/streampipe/streampipe/internal/envvar"
	"github.com/streampipe/streampipe/rows"
)

// Dataset is one kind of record: where its records come from, where they travel and
// the row each becomes.
type Dataset struct {
	// Name is the value of a run input's dataset field and of STREAMING_DATASETS.
	Name string
	// Records is what its records are called in progress, results and logs, e.g.
	// "transactions"; default Name with spaces for underscores.
	Records string
	// Topic is the Kafka topic of runs that name no other.
	Topic string
	// DLQTopic is the streaming worker's dead-letter topic; default Topic + ".dlq".
	DLQTopic string
	// Keyspace and Table are the Cassandra table the streaming worker writes.
	Keyspace, Table string
	// Rows is the row mapping: the table's columns and primary key, and the decoding
	// of one Kafka message into one row.
	Rows rows.Mapping
	// Interval and PerTick are the defaults of a run's tick interval and records per
	// tick.
	Interval time.Duration
	PerTick  int
	// Generate makes a tick's records (the producer side).
	Generate Generator

	// space is the UUID namespace of its record ids.
	space uuid.UUID
}

var (
	registry = map[string]Dataset{}
	names    []string
)

// register adds d to the datasets that Lookup finds, once: a name registered twice
// is a programming error.
func register(d Dataset) Dataset {
	if _, dup := registry[d.Name]; dup || d.Name == "" {
		panic(fmt.Sprintf("datasets: dataset %q registered twice or without a name", d.Name))
	}
	d.space = uuid.NewSHA1(uuid.NameSpaceURL, []byte("https://github.com/streampipe/streampipe/"+d.Name))
	registry[d.Name] = d
	names = append(names, d.Name)
	return d
}

// Lookup returns the dataset called name; the empty name is users, so that runs
// started before datasets existed publish users as they did.
func Lookup(name string) (Dataset, bool) {
	d, ok := registry[cmp.Or(name, NameUsers)]
	return d, ok
}

// Names lists the datasets, users (the default) first and the others by name, for
// messages that say what is allowed.
func Names() []string {
	out := append([]string(nil), names...)
	slices.SortFunc(out, func(a, b string) int {
		switch {
		case a == b:
			return 0
		case a == NameUsers:
			return -1
		case b == NameUsers:
			return 1
		}
		return cmp.Compare(a, b)
	})
	return out
}

// UnknownError says that name is no dataset, and which are.
func UnknownError(name string) error {
	return fmt.Errorf("unknown dataset %q: want one of %s", name, strings.Join(Names(), ", "))
}

// RecordsNoun is what the dataset's records are called: Records, or the name with
// spaces for underscores.
func (d Dataset) RecordsNoun() string {
	return cmp.Or(d.Records, strings.ReplaceAll(d.Name, "_", " "))
}

// ReadTable reads the dataset's keyspace and table from its variables (Vars), each
// a CQL identifier, defaults Keyspace and Table: the streaming worker writes there and
// the starter counts rows there.
func (d Dataset) ReadTable(e *envvar.Reader) (keyspace, table string) {
	v, m := d.Vars(), d.Meanings()
	return e.Checked(v.Keyspace, d.Keyspace, rows.CheckIdentifier, m.Keyspace), e.Checked(v.Table, d.Table, rows.CheckIdentifier, m.Table)
}

// DeadLetterTopic is DLQTopic, or Topic's default dead-letter topic.
func (d Dataset) DeadLetterTopic() string {
	return cmp.Or(d.DLQTopic, rows.DeadLetterTopic(d.Topic))
}

// SourceTopic is the topic whose dead letters dead-letter topic dlqTopic holds by
// default: its name without ".dlq"; "" when it does not end so (the operator then
// names the source topic).
func SourceTopic(dlqTopic string) string {
	if src, ok := strings.CutSuffix(dlqTopic, rows.DeadLetterSuffix); ok {
		return src
	}
	return ""
}

// KeyColumn is the first column of the table, its partition key: the record id.
func (d Dataset) KeyColumn() string { return d.Rows.Columns()[0].Name }

// RecordID is the id of record index of a tick of a run: a name-based (version 5) UUID,
// in the dataset's namespace, of the workflow id, the run id of the run's first
// execution, the tick and the index. A tick sent again therefore carries the same
// ids, and the ids of a run can be computed from its workflow and run ids.
func (d Dataset) RecordID(workflowID, runID string, tick, index int) string {
	// The same bytes as fmt's "%q %q %d %d", without its cost on large ticks.
	name := strconv.AppendQuote(nil, workflowID)
	name = strconv.AppendQuote(append(name, ' '), runID)
	name = strconv.AppendInt(append(name, ' '), int64(tick), 10)
	name = strconv.AppendInt(append(name, ' '), int64(index), 10)
	return uuid.NewSHA1(d.space, name).String()
}

// Group is the dataset's streaming consumer group when STREAMING_GROUP is base:
// base for users, base-<name> for another.
func (d Dataset) Group(base string) string {
	if d.Name == NameUsers {
		return base
	}
	return base + "-" + d.Name
}

// Vars names the environment variables through which the programs move a dataset
// elsewhere: its topic, dead-letter topic, consumer group, keyspace and table. The
// users dataset has the names it always had: KAFKA_TOPIC, KAFKA_DLQ_TOPIC,
// STREAMING_GROUP, CASSANDRA_KEYSPACE and CASSANDRA_TABLE; another has
// STREAMING_<NAME>_TOPIC, _DLQ_TOPIC, _GROUP, _KEYSPACE and _TABLE. (This package
// reads no variable; the mains do, by these names.)
type Vars struct {
	Topic, DLQTopic, Group, Keyspace, Table string
}

// Vars are the names of the dataset's variables.
func (d Dataset) Vars() Vars {
	if d.Name == NameUsers {
		return Vars{"KAFKA_TOPIC", "KAFKA_DLQ_TOPIC", "STREAMING_GROUP", "CASSANDRA_KEYSPACE", "CASSANDRA_TABLE"}
	}
	p := "STREAMING_" + strings.ToUpper(d.Name) + "_"
	return Vars{p + "TOPIC", p + "DLQ_TOPIC", p + "GROUP", p + "KEYSPACE", p + "TABLE"}
}

// Meanings say what each of the dataset's variables (Vars) means, for the programs'
// -h and docs/configuration.md.
func (d Dataset) Meanings() Vars {
	the := "the " + d.Name + " dataset's "
	group := the + "consumer group; default `STREAMING_GROUP`-" + d.Name
	if d.Name == NameUsers {
		group = the + "consumer group; another dataset's is `<this>-<dataset>`"
	}
	return Vars{
		Topic:    the + "topic: the one its runs publish to (the starter's flag `-topic`) and the streaming worker consumes",
		DLQTopic: the + "dead-letter topic, created if missing (`max.message.bytes` 8 MiB); unless the dataset names one, `<its topic>.dlq`, following a moved topic (the starter's flag `-dlq-topic`)",
		Group:    group,
		Keyspace: the + "keyspace: where the streaming worker writes its rows (creating it if missing) and `starter verify` counts them",
		Table:    the + "table: created if missing, missing columns added, by the streaming worker; `starter verify` counts rows there",
	}
}
