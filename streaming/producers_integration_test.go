package streaming_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	gocql "github.com/apache/cassandra-gocql-driver/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/streampipe/streampipe/datasets"
	"github.com/streampipe/streampipe/internal/testkit/randomusertest"
	"github.com/streampipe/streampipe/internal/testkit/stacktest"
	"github.com/streampipe/streampipe/rows"
	"github.com/streampipe/streampipe/streaming"
)

// sent is one record a producer sent, as the producer reported it or as the topic
// holds it.
type sent struct {
	Partition int
	Offset    int64
	Key       string
	Value     string
	Headers   map[string]string
	Txn       string // "committed" or "aborted" for a transaction's records, else ""
}

// producers is what the producer cases run: the python of the pinned producers'
// venv, their scripts and a recorded randomuser.me response to feed them.
type producers struct {
	python, scripts, stack, response string
}

// producerCase is one producer the project did not write, sending records of one
// dataset to a topic of the case's own.
type producerCase struct {
	name    string
	shape   string // the records it sends, for the outcome table
	dataset string // a datasets name
	// invalid maps each invalid value the case sends to the reason it is
	// dead-lettered with: every other value is to become a row, unless aborted.
	invalid map[string]string
	produce produceFunc
}

// produceFunc sends a case's records, the invalid values among them, to topic on
// brokers and returns what it sent, or nil when what it sent is to be read back from
// the topic (which then holds no transaction).
type produceFunc func(t *testing.T, brokers []string, topic string, invalid []string) []sent

// The producers users already have, pointed at the local stack with the streaming
// worker running, each on a topic and table of its own: the seed's kafka-python +
// Faker producer as the seed has it (keyless), the Airflow tutorial's format_data
// producer fed a real randomuser.me response (keyless, post codes as JSON numbers and
// strings), librdkafka through confluent-kafka with each compression codec
// (idempotent, keyed, with headers), with transactions (one aborted) and with keyed
// registered users, and Kafka's own kafka-console-producer (the Java client, lines, no
// key). For each: every record that should be a row is exactly one row holding what
// the record held (a JSON number in a text column as its JSON text; a key as the id),
// a keyless record's row is the same when the record is delivered again, no aborted
// record is a row, the dead-letter topic holds exactly the invalid records, and the
// group's committed offsets reach the end of every partition (lag 0), also where it
// ends with a transaction's marker. The producers' Python packages are pinned by sha256
// (stack/producers/requirements.txt) and installed once per machine.
func TestProducersWeDidNotWrite(t *testing.T) {
	stacktest.Needs(t, stacktest.NeedsKafka, stacktest.NeedsCassandra, stacktest.NeedsScript)
	pr := installProducers(t)
	users := "randomuser.me users (format_data), post codes JSON numbers and strings"
	cases := []producerCase{
		{name: "kafka-python + Faker (the seed's)", shape: `JSON string "name$address$year", no key`,
			dataset: datasets.NameRegisteredUsers, produce: pr.script("seed_registered_users.py")},
		{name: "kafka-python (the tutorial's)", shape: users + ", no key", dataset: datasets.NameUsers,
			produce: pr.script("tutorial_users.py", pr.response)},
	}
	for _, codec := range []string{"gzip", "snappy", "lz4", "zstd"} {
		cases = append(cases, producerCase{name: "confluent-kafka " + codec + ", idempotent",
			shape: users + ", keyed by id, headers; one id not a UUID", dataset: datasets.NameUsers,
			invalid: map[string]string{`{"id": "not-a-uuid", "first_name": "Bad"}`: rows.ReasonInvalidID},
			produce: pr.reported("librdkafka_users.py", codec, pr.response)})
	}
	cases = append(cases,
		producerCase{name: "confluent-kafka transactional",
			shape: users + ", keyed, 3 partitions: committed, aborted, committed (the last partition ends with the abort's marker); " +
				"one record not JSON in each of the first two",
			dataset: datasets.NameUsers, invalid: map[string]string{"not json: a transactional record": rows.ReasonNotJSON},
			produce: pr.reported("librdkafka_users.py", "transactions", pr.response)},
		producerCase{name: "confluent-kafka, keyed registered users",
			shape:   `JSON string "name$address$year" (Faker), keyed by a uuid4, headers; one with two fields`,
			dataset: datasets.NameRegisteredUsers, invalid: map[string]string{`"Only Name$2002"`: rows.ReasonMalformed},
			produce: pr.reported("librdkafka_registered_users.py")},
		producerCase{name: "kafka-console-producer (Java)", shape: users + " as lines, no key; a line not JSON, a line without id",
			dataset: datasets.NameUsers,
			invalid: map[string]string{"not json: a line typed by hand": rows.ReasonNotJSON, `{"first_name": "no id"}`: rows.ReasonMissingID},
			produce: pr.console},
	)

	var mu sync.Mutex
	var outcomes []string
	t.Run("producers", func(t *testing.T) {
		for _, pc := range cases {
			t.Run(pc.name, func(t *testing.T) {
				t.Parallel()
				outcome := pc.run(t)
				mu.Lock()
				defer mu.Unlock()
				outcomes = append(outcomes, outcome)
			})
		}
	})
	slices.Sort(outcomes)
	t.Logf("\n| producer | records | sent | rows (want) | aborted as rows | dead letters (want) |\n|---|---|---|---|---|---|\n%s",
		strings.Join(outcomes, "\n"))
}

// run produces the case's records, runs a streaming worker of its dataset until the
// group has committed the end of every partition, checks the rows and the dead
// letters, and returns a row of the outcome table.
func (pc producerCase) run(t *testing.T) string {
	t.Helper()
	ds, ok := datasets.Lookup(pc.dataset)
	require.True(t, ok, pc.dataset)
	p := newPipe(t, 3)
	records := pc.produce(t, p.brokers, p.topic, slices.Sorted(maps.Keys(pc.invalid)))
	if records == nil {
		records = readBack(p)
	}
	want := pc.expect(t, ds, records)

	w, err := streaming.New(p.config(), ds.Rows, streaming.NewMetrics(prometheus.NewRegistry()))
	require.NoError(t, err)
	stop := runUntilStopped(t, w.Run)
	p.waitCaughtUp(2 * time.Minute) // lag 0, also where a partition ends with a transaction marker
	assert.True(t, w.Ready(), "the worker is ready once caught up")
	require.NoError(t, stop())

	rows := tableRows(p, ds.Rows)
	missing, extra := diff(want.rows, contents(rows, want.ids))
	assert.Empty(t, clipAll(missing), "%d rows expected and not in %s.%s (a derived id shown as %s)",
		len(missing), testKeyspace, p.table, derivedID)
	assert.Empty(t, clipAll(extra), "%d rows in %s.%s that no record should have made", len(extra), testKeyspace, p.table)
	abortedRows := 0
	for id := range want.aborted {
		if _, ok := rows[id]; ok {
			abortedRows++
		}
	}
	assert.Zero(t, abortedRows, "records of the aborted transaction written as rows")

	dead, reasons := checkDeadLetters(p, records, pc.invalid)
	missing, extra = diff(want.dead, dead)
	assert.Empty(t, clipAll(missing), "%d invalid records not in %s", len(missing), p.dlq)
	assert.Empty(t, clipAll(extra), "%d dead letters of records that are not invalid (by reason: %v)", len(extra), reasons)

	if want.derived > 0 { // a redelivery of the keyless records writes the same rows, not new ones
		again := *p
		again.group += "-again"
		w, err := streaming.New(again.config(), ds.Rows, streaming.NewMetrics(prometheus.NewRegistry()))
		require.NoError(t, err)
		stop := runUntilStopped(t, w.Run)
		again.waitCaughtUp(2 * time.Minute)
		require.NoError(t, stop())
		assert.ElementsMatch(t, slices.Collect(maps.Keys(rows)), slices.Collect(maps.Keys(tableRows(p, ds.Rows))),
			"row ids after every record was delivered a second time")
	}
	return fmt.Sprintf("| %s | %s | %d | %d (%d) | %d of %d | %s (%d) |", pc.name, pc.shape, len(records),
		len(rows), len(want.rows), abortedRows, len(want.aborted), byReason(reasons), len(want.dead))
}

// derivedID stands for the id of a row whose record has no id of its own: the
// worker derives it from the record's coordinates.
const derivedID = "(derived)"

// expected is what a case's records are to become: the rows (each as rowContent),
// the ids the records name, how many rows have derived ids, the ids of the aborted
// records, and the dead-lettered values (once per dead letter).
type expected struct {
	rows    []string
	ids     map[string]bool
	derived int
	aborted map[string]bool
	dead    []string
}

// expect says what records are to become: an aborted record nothing, an invalid
// one a dead letter, any other a row.
func (pc producerCase) expect(t *testing.T, ds datasets.Dataset, records []sent) expected {
	t.Helper()
	want := expected{ids: map[string]bool{}, aborted: map[string]bool{}}
	for _, r := range records {
		_, bad := pc.invalid[r.Value]
		switch {
		case bad && r.Txn != "aborted":
			want.dead = append(want.dead, r.Value)
		case bad:
		case r.Txn == "aborted":
			id, _ := expectedRow(t, ds, r)
			want.aborted[id] = true
		default:
			id, cols := expectedRow(t, ds, r)
			if id == "" {
				id = derivedID
				want.derived++
			}
			want.ids[id] = true
			want.rows = append(want.rows, rowContent(id, cols))
		}
	}
	return want
}

// expectedRow is the row a valid record is to become, by column, and its id ("":
// derived from the record's coordinates). A registered user's id is the record's
// key; a user's is its "id" field, and each text column holds its field as the seed's
// Spark job stored it: a string as itself, a number or boolean as its JSON text.
func expectedRow(t *testing.T, ds datasets.Dataset, r sent) (id string, cols map[string]string) {
	t.Helper()
	cols = map[string]string{}
	switch ds.Name {
	case datasets.NameRegisteredUsers:
		var s string
		require.NoError(t, json.Unmarshal([]byte(r.Value), &s), r.Value)
		parts := strings.Split(s, "$")
		require.Len(t, parts, 3, s)
		cols["name"], cols["address"], cols["date"] = parts[0], parts[1], parts[2]
		return r.Key, cols
	case datasets.NameUsers:
		var fields map[string]json.RawMessage
		require.NoError(t, json.Unmarshal([]byte(r.Value), &fields), r.Value)
		for _, c := range ds.Rows.Columns()[1:] {
			raw, ok := fields[c.Name]
			var s string
			switch {
			case !ok:
			case bytes.HasPrefix(raw, []byte(`"`)):
				require.NoError(t, json.Unmarshal(raw, &s))
			default:
				s = string(raw)
			}
			cols[c.Name] = s
		}
		require.NoError(t, json.Unmarshal(fields["id"], &id))
		return id, cols
	}
	t.Fatalf("no expected row for dataset %s", ds.Name)
	return "", nil
}

// rowContent is a row as one comparable line: its id, then each column=value by name.
func rowContent(id string, cols map[string]string) string {
	var b strings.Builder
	b.WriteString(id)
	for _, name := range slices.Sorted(maps.Keys(cols)) {
		fmt.Fprintf(&b, " | %s=%q", name, cols[name])
	}
	return b.String()
}

// contents is rows as rowContent lines; an id that is none of ids is shown as
// derivedID.
func contents(rows map[string]map[string]string, ids map[string]bool) []string {
	out := make([]string, 0, len(rows))
	for id, cols := range rows {
		if !ids[id] {
			id = derivedID
		}
		out = append(out, rowContent(id, cols))
	}
	return out
}

// diff compares two multisets: what want has more often than got, and what got has
// more often than want.
func diff(want, got []string) (missing, extra []string) {
	n := map[string]int{}
	for _, s := range want {
		n[s]++
	}
	for _, s := range got {
		n[s]--
	}
	for _, s := range slices.Sorted(maps.Keys(n)) {
		for ; n[s] > 0; n[s]-- {
			missing = append(missing, s)
		}
		for ; n[s] < 0; n[s]++ {
			extra = append(extra, s)
		}
	}
	return missing, extra
}

// clipAll is the first few of ss, each cut short, for a failure message.
func clipAll(ss []string) []string {
	const most, width = 5, 200
	var out []string
	for _, s := range ss[:min(len(ss), most)] {
		if r := []rune(s); len(r) > width {
			s = string(r[:width]) + "…"
		}
		out = append(out, s)
	}
	if len(ss) > most {
		out = append(out, fmt.Sprintf("… and %d more", len(ss)-most))
	}
	return out
}

// byReason is a count by dead-letter reason, e.g. "not_json 1, wrong_type 25", or "none".
func byReason(reasons map[string]int) string {
	if len(reasons) == 0 {
		return "none"
	}
	var parts []string
	for _, r := range slices.Sorted(maps.Keys(reasons)) {
		parts = append(parts, fmt.Sprintf("%s %d", r, reasons[r]))
	}
	return strings.Join(parts, ", ")
}

// tableRows reads the pipe's whole table (a test's own: a few dozen rows), id → the
// other columns as text.
func tableRows(p *pipe, ds rows.Mapping) map[string]map[string]string {
	p.t.Helper()
	cols := ds.Columns()
	iter := p.session.Query(fmt.Sprintf("SELECT * FROM %s.%s", testKeyspace, p.table)).Iter()
	rows := map[string]map[string]string{}
	for {
		row := map[string]any{}
		if !iter.MapScan(row) {
			break
		}
		id, ok := row[cols[0].Name].(gocql.UUID)
		require.True(p.t, ok, "id column %s: %T", cols[0].Name, row[cols[0].Name])
		text := map[string]string{}
		for _, c := range cols[1:] {
			text[c.Name], ok = row[c.Name].(string)
			require.True(p.t, ok, "column %s: %T", c.Name, row[c.Name])
		}
		rows[id.String()] = text
	}
	require.NoError(p.t, iter.Close())
	return rows
}

// checkDeadLetters reads the pipe's whole dead-letter topic and returns its values
// (once per dead letter) and a count by reason. A dead letter of an invalid value
// must have that value's reason; every dead letter must name as its source a record
// sent with its value, not aborted, and keep that record's headers.
func checkDeadLetters(p *pipe, records []sent, invalid map[string]string) (values []string, reasons map[string]int) {
	p.t.Helper()
	at := map[string]sent{}
	for _, r := range records {
		at[fmt.Sprintf("%d/%d", r.Partition, r.Offset)] = r
	}
	reasons = map[string]int{}
	var problems []string
	for _, m := range p.readAll(p.dlq) {
		h := headers(m)
		value := string(m.Value)
		values = append(values, value)
		reasons[h[rows.HeaderReason]]++
		if want, bad := invalid[value]; bad && h[rows.HeaderReason] != want {
			problems = append(problems, fmt.Sprintf("reason %s, want %s: %s", h[rows.HeaderReason], want, value))
		}
		if h[rows.HeaderTopic] != p.topic {
			problems = append(problems, fmt.Sprintf("source topic %s, want %s: %s", h[rows.HeaderTopic], p.topic, value))
		}
		where := h[rows.HeaderPartition] + "/" + h[rows.HeaderOffset]
		src, ok := at[where]
		switch {
		case !ok:
			problems = append(problems, fmt.Sprintf("source %s, where no record was sent (key %q, reason %s): %s",
				where, m.Key, h[rows.HeaderReason], value))
		case src.Value != value:
			problems = append(problems, fmt.Sprintf("source %s holds another value: %s", where, value))
		case src.Txn == "aborted":
			problems = append(problems, fmt.Sprintf("source %s is a record of the aborted transaction: %s", where, value))
		}
		for k, v := range src.Headers {
			if h[k] != v {
				problems = append(problems, fmt.Sprintf("header %s=%q, want its record's %q: %s", k, h[k], v, value))
			}
		}
	}
	assert.Empty(p.t, clipAll(problems), "%d problems with the dead letters of %s", len(problems), p.dlq)
	return values, reasons
}

// readBack is every record of the pipe's topic (which holds no transaction).
func readBack(p *pipe) []sent {
	p.t.Helper()
	var out []sent
	for _, m := range p.readAll(p.topic) {
		out = append(out, sent{Partition: m.Partition, Offset: m.Offset, Key: string(m.Key), Value: string(m.Value),
			Headers: headers(m)})
	}
	return out
}

// installProducers installs the producers' pinned Python packages once per machine
// with stack/stack.sh (failing the test, with the script's reason, if it cannot) and
// writes the recorded randomuser.me response where the producers read it.
func installProducers(t *testing.T) producers {
	t.Helper()
	stack := stackScript(t)
	var stderr bytes.Buffer
	cmd := exec.Command(stack, "tool", "producers")
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	require.NoError(t, err, "installing the producers' Python packages with `stack/stack.sh tool producers`:\n%s", stderr.String())
	scripts, err := filepath.Abs("testdata/producers")
	require.NoError(t, err)
	response := filepath.Join(t.TempDir(), "randomuser.json")
	require.NoError(t, os.WriteFile(response, randomusertest.Response, 0o644))
	return producers{python: strings.TrimSpace(string(out)), scripts: scripts, stack: stack, response: response}
}

// script runs a Python producer that takes its Kafka from KAFKA_BOOTSTRAP and TOPIC
// and sends no invalid record; what it sent is read back from the topic.
func (pr producers) script(name string, args ...string) produceFunc {
	return func(t *testing.T, brokers []string, topic string, invalid []string) []sent {
		t.Helper()
		require.Empty(t, invalid, "%s sends no invalid record", name)
		pr.run(t, brokers, topic, name, args...)
		return nil
	}
}

// reported runs a producer script that reports each record it sent (partition,
// offset, key, value, headers, transaction) as a JSON line, with args and then the
// invalid values as its arguments.
func (pr producers) reported(name string, args ...string) produceFunc {
	return func(t *testing.T, brokers []string, topic string, invalid []string) []sent {
		t.Helper()
		out := pr.run(t, brokers, topic, name, append(slices.Clip(args), invalid...)...)
		var records []sent
		dec := json.NewDecoder(bytes.NewReader(out))
		for dec.More() {
			var r sent
			require.NoError(t, dec.Decode(&r), "%s's report:\n%s", name, out)
			records = append(records, r)
		}
		require.NotEmpty(t, records, "%s reported no record", name)
		return records
	}
}

// console pipes the tutorial's users, as JSON lines, with the invalid lines among
// them, into Kafka's own kafka-console-producer with its default settings (no key).
func (pr producers) console(t *testing.T, brokers []string, topic string, invalid []string) []sent {
	t.Helper()
	users := strings.Split(strings.TrimSpace(string(pr.run(t, nil, "", "users_lines.py", pr.response))), "\n")
	require.NotEmpty(t, users)
	var lines []string
	for i, u := range users {
		lines = append(lines, u)
		if i < len(invalid) { // one invalid line after each of the first users
			lines = append(lines, invalid[i])
		}
	}
	cmd := exec.Command(pr.stack, "kafka-console-producer", "--topic", topic, "--bootstrap-server", strings.Join(brokers, ","))
	cmd.Stdin = strings.NewReader(strings.Join(lines, "\n") + "\n")
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "kafka-console-producer:\n%s", out)
	return nil
}

// run runs a producer script with KAFKA_BOOTSTRAP and TOPIC set (when brokers are
// given) and returns its standard output.
func (pr producers) run(t *testing.T, brokers []string, topic, name string, args ...string) []byte {
	t.Helper()
	cmd := exec.Command(pr.python, append([]string{filepath.Join(pr.scripts, name)}, args...)...)
	cmd.Dir = pr.scripts
	cmd.Env = os.Environ()
	if len(brokers) > 0 {
		cmd.Env = append(cmd.Env, "KAFKA_BOOTSTRAP="+brokers[0], "TOPIC="+topic)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	start := time.Now()
	out, err := cmd.Output()
	require.NoError(t, err, "%s %s:\n%s", name, strings.Join(args, " "), stderr.String())
	t.Logf("%s %s: %s", name, strings.Join(args, " "), time.Since(start).Round(time.Millisecond))
	return out
}
