package benchreport

import (
	"fmt"
	"strings"
	"time"
)

// Scaling is one run of the scaling bench on a cluster: one pre-filled topic drained
// by 1, 2, 3... streaming workers of one consumer group, a round for each count,
// beside the raw client ceilings on the same cluster.
type Scaling struct {
	Date     time.Time
	Machine  string   // cores, CPU model, memory
	Cluster  string   // what the servers are: nodes, replication, consistency
	Versions []string // "Cassandra 5.0.9", ...
	Records  int      // each round's drain
	Ceilings []System // Name, Setting and RowsPerS of each
	Rounds   []Round
	Notes    []string
}

// Round is one drain of the topic by Workers workers.
type Round struct {
	Workers  int
	RowsPerS float64 // all workers together, Measured rows in Window
	Ceiling  float64 // the best ceiling, at its setting, measured again just before the round (0: not)
	Drain    time.Duration
	Joined   time.Duration // first row → every worker a member of the stable group
	Measured float64       // rows written from then on to the last
	Window   time.Duration // the time they took
	Each     []Worker
	// The cores the Cassandra nodes and the Kafka nodes used, each kind together,
	// in Window.
	Cassandra, Kafka float64
	Rewrites         int // rows written more than once: re-delivered after a rebalance, one row each
	// The workers' micro-batches in Window, on average: records, the time to write
	// one (a worker fetches the next while it writes), rows per Cassandra write.
	BatchRecords float64
	BatchTime    time.Duration
	WriteRows    float64
}

// Worker is what one worker of a round did.
type Worker struct {
	Rows    float64 // rows it wrote in the whole round
	Cores   float64 // CPU it used in the round's Window
	PeakRSS float64 // bytes
}

// name is "1 worker", "2 workers", ...
func (r Round) name() string {
	if r.Workers == 1 {
		return "1 worker"
	}
	return fmt.Sprintf("%d workers", r.Workers)
}

// cpuPerRow is the CPU time cores spent per row at the round's rate.
func (r Round) cpuPerRow(cores float64) string {
	return fmt.Sprintf("%.0f µs", cores/r.RowsPerS*1e6)
}

// best returns the ceiling with the most rows/s, or nil.
func (s *Scaling) best() *System {
	var b *System
	for i := range s.Ceilings {
		if c := &s.Ceilings[i]; b == nil || c.RowsPerS > b.RowsPerS {
			b = c
		}
	}
	return b
}

// rows returns the table: a header, a row per ceiling, a row per round.
func (s *Scaling) rows() [][]string {
	table := [][]string{{"", "rows/s", "rows/s per worker", "best ceiling just before", "× that ceiling", "rows by worker",
		"cores by worker", "peak RSS by worker (MB)", "cores of Cassandra / Kafka nodes", fmt.Sprintf("drain of %d", s.Records)}}
	for _, c := range s.Ceilings {
		table = append(table, []string{fmt.Sprintf("%s (%s)", c.Name, c.Setting),
			fmt.Sprintf("%.0f", c.RowsPerS), "—", "—", "—", "—", "—", "—", "—", "—"})
	}
	best := s.best()
	for _, r := range s.Rounds {
		ceiling := r.Ceiling
		if ceiling == 0 && best != nil {
			ceiling = best.RowsPerS
		}
		table = append(table, []string{"streampipe, " + r.name(),
			fmt.Sprintf("%.0f", r.RowsPerS), fmt.Sprintf("%.0f", r.RowsPerS/float64(r.Workers)),
			orDash(r.Ceiling > 0, fmt.Sprintf("%.0f", r.Ceiling)), orDash(ceiling > 0, fmt.Sprintf("%.2f×", r.RowsPerS/ceiling)),
			each(r.Each, func(w Worker) string { return fmt.Sprintf("%.0f", w.Rows) }),
			each(r.Each, func(w Worker) string { return fmt.Sprintf("%.2f", w.Cores) }),
			each(r.Each, func(w Worker) string { return fmt.Sprintf("%.0f", w.PeakRSS/(1<<20)) }),
			fmt.Sprintf("%.2f / %.2f", r.Cassandra, r.Kafka), seconds(r.Drain)})
	}
	return table
}

// each is one figure of every worker, "a / b / c".
func each(ws []Worker, figure func(Worker) string) string {
	out := make([]string, len(ws))
	for i, w := range ws {
		out[i] = figure(w)
	}
	return strings.Join(out, " / ")
}

// footer is what follows the table: how each round was measured, its CPU per row
// and its rewrites, then the notes.
func (s *Scaling) footer() []string {
	var out []string
	for _, r := range s.Rounds {
		workers := 0.0
		for _, w := range r.Each {
			workers += w.Cores
		}
		line := fmt.Sprintf("%s: every worker a member %s after the first row; rows/s of the %.0f rows written from then on, in %s; "+
			"CPU per row: workers %s, Cassandra nodes %s, Kafka nodes %s; micro-batches of %.0f records written in %s, %.1f rows per Cassandra write",
			r.name(), seconds(r.Joined), r.Measured, seconds(r.Window), r.cpuPerRow(workers), r.cpuPerRow(r.Cassandra), r.cpuPerRow(r.Kafka),
			r.BatchRecords, ms(r.BatchTime), r.WriteRows)
		if r.Rewrites > 0 {
			line += fmt.Sprintf("; %d rows written twice (re-delivered after a rebalance; one row each)", r.Rewrites)
		}
		out = append(out, line)
	}
	return append(out, s.Notes...)
}

// Text is the table aligned for a terminal, with the notes under it.
func (s *Scaling) Text() string {
	heading := fmt.Sprintf("%s — %s\n%s\n", s.Date.UTC().Format("2006-01-02 15:04 MST"), s.Machine, s.Cluster)
	if len(s.Versions) > 0 {
		heading += strings.Join(s.Versions, ", ") + "\n"
	}
	return textTable(heading, s.rows(), s.footer())
}

// Markdown is the same as Text for a document: a heading line, the table, the lines
// under it as a list.
func (s *Scaling) Markdown() string {
	heading := fmt.Sprintf("Measured %s on %s. %s.", s.Date.UTC().Format("2006-01-02 15:04 MST"), s.Machine, s.Cluster)
	if len(s.Versions) > 0 {
		heading += fmt.Sprintf(" %s.", strings.Join(s.Versions, ", "))
	}
	return markdownTable(heading, s.rows(), s.footer())
}
