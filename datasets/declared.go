package datasets

import (
	"errors"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/streampipe/streampipe/rows"
)

// Declared datasets come from a file (YAML, or JSON, which is YAML too) instead of Go:
// the streaming worker takes a topic of the user's own into a table of theirs without
// a line of code. docs/declared-datasets.md describes the format; a declared dataset
// has no generator (the producer does not publish it) and its row mapping is a
// *Declared.
//
//	datasets:
//	  - name: orders
//	    topic: orders
//	    dead_letter_topic: orders.dlq      # default <topic>.dlq
//	    table: shop.orders                 # keyspace.table
//	    primary_key: id                    # a CQL clause: "id", "(account), at"
//	    write_time: value.updated_at       # default kafka.timestamp
//	    columns:
//	      - {name: id, type: uuid, from: value.id, required: true}
//	        # or from: key, if_absent: kafka.record_id (records without one)
//	      - {name: customer, type: text, from: value.customer.name}
//	      - {name: partition, type: int, from: kafka.partition}
//	      - {name: origin, type: text, const: web}

// declaredTypes are the CQL types a declared column may have.
var declaredTypes = []string{"text", "uuid", "int", "bigint", "double", "boolean", "date", "timestamp", "list<text>"}

// Sources of a declared column's value besides a path in the value ("value.a.b").
const (
	fromKey       = "key"
	fromTimestamp = "kafka.timestamp"
	fromPartition = "kafka.partition"
	fromOffset    = "kafka.offset"
	// fromRecordID is an id derived from the record's first coordinates
	// (rows.RecordID): a row per record for records that carry no id.
	fromRecordID = "kafka.record_id"
)

// sourceTypes are the types each non-value source can fill.
var sourceTypes = map[string][]string{
	fromKey:       {"text", "uuid", "int", "bigint"},
	fromTimestamp: {"timestamp", "bigint"},
	fromPartition: {"int", "bigint"},
	fromOffset:    {"bigint"},
	fromRecordID:  {"uuid"},
}

var (
	datasetName = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)
	pathPart    = regexp.MustCompile(`^[^.\s]+$`)
	keyColumn   = regexp.MustCompile(`[a-zA-Z][a-zA-Z0-9_]*`)
)

// LoadFile reads and checks a file of declared datasets: see ParseDeclared.
func LoadFile(path string) ([]Dataset, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading declared datasets: %w", err)
	}
	return ParseDeclared(path, data)
}

// ParseDeclared parses and checks a file of declared datasets named file. Its error
// lists every problem of the file at once, each as "file:line: what is wrong".
func ParseDeclared(file string, data []byte) ([]Dataset, error) {
	p := &declParser{file: file}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	var out []Dataset
	if len(doc.Content) == 0 {
		p.fail(&doc, "the file is empty: want a mapping with a datasets list")
		return nil, p.err()
	}
	top := p.mapping(doc.Content[0], "the file", "datasets")
	list, ok := top["datasets"]
	if !ok {
		p.fail(doc.Content[0], "no datasets: want a datasets list")
		return nil, p.err()
	}
	if list.Kind != yaml.SequenceNode || len(list.Content) == 0 {
		p.fail(list, "datasets: want a list of datasets")
		return nil, p.err()
	}
	seen := map[string]int{}
	for _, n := range list.Content {
		d, ok := p.dataset(n)
		if !ok {
			continue
		}
		if line, dup := seen[d.Name]; dup {
			p.fail(n, "dataset %s is declared twice (first at line %d)", d.Name, line)
			continue
		}
		seen[d.Name] = n.Line
		out = append(out, d)
	}
	if err := p.err(); err != nil {
		return nil, err
	}
	return out, nil
}

// declParser collects the problems of a file.
type declParser struct {
	file string
	errs []declProblem
}

// declProblem is a problem of the file and the line it is on.
type declProblem struct {
	line int
	err  error
}

func (p *declParser) fail(n *yaml.Node, format string, args ...any) {
	p.errs = append(p.errs, declProblem{n.Line, fmt.Errorf("%s:%d: %s", p.file, n.Line, fmt.Sprintf(format, args...))})
}

// err is every problem found, in the order of their lines in the file.
func (p *declParser) err() error {
	if len(p.errs) == 0 {
		return nil
	}
	slices.SortStableFunc(p.errs, func(a, b declProblem) int { return a.line - b.line })
	errs := make([]error, len(p.errs))
	for i, e := range p.errs {
		errs[i] = e.err
	}
	return fmt.Errorf("declared datasets: %d problems:\n%w", len(errs), errors.Join(errs...))
}

// mapping returns the keys of a mapping node; keys not in allowed are reported.
func (p *declParser) mapping(n *yaml.Node, what string, allowed ...string) map[string]*yaml.Node {
	out := map[string]*yaml.Node{}
	if n.Kind != yaml.MappingNode {
		p.fail(n, "%s: want a mapping of %s", what, strings.Join(allowed, ", "))
		return out
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		switch {
		case !slices.Contains(allowed, k.Value):
			p.fail(k, "%s: unknown field %q: want %s", what, k.Value, strings.Join(allowed, ", "))
		case out[k.Value] != nil:
			p.fail(k, "%s: field %s given twice", what, k.Value)
		default:
			out[k.Value] = v
		}
	}
	return out
}

// scalar is the text of field name of m, "" when absent; a non-scalar is reported.
func (p *declParser) scalar(m map[string]*yaml.Node, what, name string) string {
	n, ok := m[name]
	if !ok {
		return ""
	}
	if n.Kind != yaml.ScalarNode {
		p.fail(n, "%s: %s: want a single value", what, name)
		return ""
	}
	return n.Value
}

func (p *declParser) dataset(n *yaml.Node) (Dataset, bool) {
	before := len(p.errs)
	m := p.mapping(n, "dataset", "name", "topic", "dead_letter_topic", "table", "primary_key", "write_time", "columns")
	if n.Kind != yaml.MappingNode {
		return Dataset{}, false
	}
	name := p.scalar(m, "dataset", "name")
	what := "dataset " + name
	switch {
	case name == "":
		p.fail(n, "dataset: no name")
		what = "dataset"
	case !datasetName.MatchString(name):
		p.fail(m["name"], "dataset %q: want a name of a-z, 0-9 and _, starting with a letter", name)
	case registry[name].Name != "":
		p.fail(m["name"], "dataset %s: a built-in dataset has that name; give this one another", name)
	}
	d := Dataset{Name: name, Topic: p.scalar(m, what, "topic"), DLQTopic: p.scalar(m, what, "dead_letter_topic")}
	if d.Topic == "" {
		p.fail(n, "%s: no topic", what)
	} else if err := rows.CheckTopic(d.Topic); err != nil {
		p.fail(m["topic"], "%s: topic %q: %v", what, d.Topic, err)
	}
	if err := rows.CheckTopic(d.DLQTopic); d.DLQTopic != "" && err != nil {
		p.fail(m["dead_letter_topic"], "%s: dead_letter_topic %q: %v", what, d.DLQTopic, err)
	}
	table := p.scalar(m, what, "table")
	ks, tbl, ok := strings.Cut(table, ".")
	switch {
	case table == "":
		p.fail(n, "%s: no table: want keyspace.table", what)
	case !ok || rows.CheckIdentifier(ks) != nil || rows.CheckIdentifier(tbl) != nil:
		p.fail(m["table"], "%s: table %q: want keyspace.table, each a letter, then letters, digits or _", what, table)
	}
	d.Keyspace, d.Table = strings.ToLower(ks), strings.ToLower(tbl)

	rows := &Declared{name: name, writeTime: p.writeTime(m, what)}
	cols, ok := m["columns"]
	if !ok || cols.Kind != yaml.SequenceNode || len(cols.Content) == 0 {
		p.fail(n, "%s: no columns: want a list of columns", what)
	} else {
		seen := map[string]int{}
		for _, c := range cols.Content {
			col, ok := p.column(c, what)
			if !ok {
				continue
			}
			if line, dup := seen[col.name]; dup {
				p.fail(c, "%s: column %s declared twice (first at line %d)", what, col.name, line)
				continue
			}
			seen[col.name] = c.Line
			rows.cols = append(rows.cols, col)
		}
	}
	key := p.scalar(m, what, "primary_key")
	rows.key = key
	if key == "" {
		p.fail(n, "%s: no primary_key: want a CQL clause such as \"id\" or \"(account), at\"", what)
	} else if len(rows.cols) > 0 {
		names := keyColumn.FindAllString(key, -1)
		if strings.Trim(key, "()_, abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789") != "" || len(names) == 0 {
			p.fail(m["primary_key"], "%s: primary_key %q: want column names, commas and parentheses", what, key)
		}
		for i, k := range names {
			j := slices.IndexFunc(rows.cols, func(c declaredColumn) bool { return c.name == strings.ToLower(k) })
			if j >= 0 {
				rows.cols[j].key = true
			}
			switch {
			case j < 0:
				p.fail(m["primary_key"], "%s: primary_key names %s, which is no declared column", what, k)
			case rows.cols[j].optional():
				p.fail(m["primary_key"], "%s: primary key column %s must be required (a key cannot be unset)", what, k)
			case i == 0:
				// The partition key first, as the engine wants.
				first := rows.cols[j]
				rows.cols = append([]declaredColumn{first}, slices.Delete(rows.cols, j, j+1)...)
			}
		}
	}
	d.Rows = rows
	return d, len(p.errs) == before
}

// declaredColumn is a column of a declared dataset and where its value comes from.
type declaredColumn struct {
	name, typ string
	// from is a source constant, or "value" and path the JSON path in the value.
	from     string
	path     []string
	constant any // a const column's value, bound as it is
	required bool
	key      bool // a primary key column: its absence is missing_id, a bad uuid invalid_id
	// orRecordID: a uuid column from the key or a value field that takes the
	// record's derived id (rows.RecordID) when the key or field is absent.
	orRecordID bool
}

// optional reports whether the column may be left unset.
func (c declaredColumn) optional() bool { return c.from == "value" && !c.required && !c.orRecordID }

func (p *declParser) column(n *yaml.Node, dataset string) (declaredColumn, bool) {
	before := len(p.errs)
	m := p.mapping(n, dataset+": column", "name", "type", "from", "const", "required", "if_absent")
	if n.Kind != yaml.MappingNode {
		return declaredColumn{}, false
	}
	c := declaredColumn{name: strings.ToLower(p.scalar(m, dataset, "name")), typ: strings.ToLower(strings.ReplaceAll(p.scalar(m, dataset, "type"), " ", ""))}
	what := dataset + ": column " + c.name
	if c.name == "" {
		p.fail(n, "%s: column without a name", dataset)
		what = dataset + ": column"
	} else if rows.CheckIdentifier(c.name) != nil {
		p.fail(m["name"], "%s: want a name of a letter, then letters, digits or _", what)
	}
	if !slices.Contains(declaredTypes, c.typ) {
		p.fail(nodeOr(m["type"], n), "%s: type %q: want one of %s", what, c.typ, strings.Join(declaredTypes, ", "))
	}
	if r, ok := m["required"]; ok {
		b, err := strconv.ParseBool(r.Value)
		if err != nil || r.Kind != yaml.ScalarNode {
			p.fail(r, "%s: required %q: want true or false", what, r.Value)
		}
		c.required = b
	}
	from, hasFrom := m["from"]
	cnst, hasConst := m["const"]
	switch {
	case hasFrom && hasConst:
		p.fail(n, "%s: from and const both given: want one", what)
	case hasConst:
		c.from = "const"
		if cnst.Kind != yaml.ScalarNode {
			p.fail(cnst, "%s: const: want a single value", what)
		} else if v, err := constValue(c.typ, cnst.Value); err != nil {
			p.fail(cnst, "%s: const %q: %v", what, cnst.Value, err)
		} else {
			c.constant = v
		}
	case !hasFrom:
		p.fail(n, "%s: no from: want value.<path>, key, kafka.timestamp, kafka.partition, kafka.offset, kafka.record_id, or a const", what)
	default:
		src := p.scalar(m, what, "from")
		switch {
		case isValueSource(src):
			c.from = "value"
			c.path = p.valuePath(from, what+": from", src)
		case sourceTypes[src] != nil:
			c.from = src
			if ok := slices.Contains(sourceTypes[src], c.typ); !ok && slices.Contains(declaredTypes, c.typ) {
				p.fail(from, "%s: from %s cannot fill a %s column: want %s", what, src, c.typ, strings.Join(sourceTypes[src], " or "))
			}
		default:
			p.fail(from, "%s: from %q: want value.<path>, key, kafka.timestamp, kafka.partition, kafka.offset or kafka.record_id", what, src)
		}
	}
	if n, ok := m["if_absent"]; ok {
		c.orRecordID = true
		switch {
		case n.Value != fromRecordID || n.Kind != yaml.ScalarNode:
			p.fail(n, "%s: if_absent %q: want %s", what, n.Value, fromRecordID)
		case c.typ != "uuid" || c.from != fromKey && c.from != "value":
			p.fail(n, "%s: if_absent: only a uuid column from key or value.<path> can take the record's id", what)
		}
	}
	return c, len(p.errs) == before
}

// writeTime is the source of the rows' write time declared in m: nil for the
// record's Kafka timestamp (the default), else a required timestamp field of the
// value, as a column that is not written.
func (p *declParser) writeTime(m map[string]*yaml.Node, what string) *declaredColumn {
	src := p.scalar(m, what, "write_time")
	switch {
	case src == "" || src == fromTimestamp:
		return nil
	case !isValueSource(src):
		p.fail(m["write_time"], "%s: write_time %q: want %s (the default) or value.<path> (a timestamp field of the value)",
			what, src, fromTimestamp)
		return nil
	}
	return &declaredColumn{typ: "timestamp", from: "value", path: p.valuePath(m["write_time"], what+": write_time", src), required: true}
}

// isValueSource reports whether a source is the value or a path in it.
func isValueSource(src string) bool { return src == "value" || strings.HasPrefix(src, "value.") }

// valuePath is the path of a value source ("value.a.b": a, b; "value": none). A part
// that is empty or has spaces is reported.
func (p *declParser) valuePath(n *yaml.Node, what, src string) []string {
	if src == "value" {
		return nil
	}
	path := strings.Split(strings.TrimPrefix(src, "value."), ".")
	for _, part := range path {
		if !pathPart.MatchString(part) {
			p.fail(n, "%s %q: a path part is empty or has spaces", what, src)
			break
		}
	}
	return path
}

func nodeOr(n, def *yaml.Node) *yaml.Node {
	if n != nil {
		return n
	}
	return def
}

// constValue converts a const's text to the value bound for a column of typ.
func constValue(typ, s string) (any, error) {
	switch typ {
	case "list<text>":
		return nil, errors.New("a list<text> column cannot be a const")
	case "text", "":
		return s, nil
	}
	return convertText(typ, s)
}

// convertText converts text (a key, a const, a JSON string) to a column of typ:
// text, uuid, int, bigint, double, boolean, date or timestamp.
func convertText(typ, s string) (any, error) {
	switch typ {
	case "text":
		return s, nil
	case "uuid":
		return parseCanonicalUUID(s)
	case "int":
		n, err := strconv.ParseInt(s, 10, 32)
		if err != nil {
			return nil, errors.New("want a whole number that fits an int")
		}
		return int32(n), nil
	case "bigint":
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return nil, errors.New("want a whole number that fits a bigint")
		}
		return n, nil
	case "double":
		f, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return nil, errors.New("want a number")
		}
		return f, nil
	case "boolean":
		b, err := strconv.ParseBool(s)
		if err != nil {
			return nil, errors.New("want true or false")
		}
		return b, nil
	case "date":
		d, err := time.Parse(DateLayout, s)
		if err != nil {
			return nil, errors.New("want a date like 2026-01-31")
		}
		// A date column binds Unix milliseconds of its midnight UTC (see
		// transactionRows).
		return d.UnixMilli(), nil
	case "timestamp":
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			return nil, errors.New("want an RFC 3339 time like 2026-01-31T12:00:00Z")
		}
		return t, nil
	}
	return nil, fmt.Errorf("no conversion to %s", typ)
}
