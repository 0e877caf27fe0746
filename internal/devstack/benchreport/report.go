// Package benchreport is the comparison make bench prints and draws: one column per
// system (the raw client ceilings, streampipe, Spark), one row per figure, as an
// aligned text table, as markdown and as an SVG chart.
package benchreport

import (
	"fmt"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
)

// Report is one run of the comparison.
type Report struct {
	Date     time.Time
	Machine  string   // cores, CPU model, memory
	Versions []string // "Cassandra 5.0.9", ...
	Records  int      // the drain's records
	Rates    []int    // the steady rates latency is measured at, records/s
	Systems  []System
	Notes    []string // how the figures were taken, and what could not be
}

// System is one column: what one system (or client method) did.
type System struct {
	Name     string
	Ceiling  bool   // a raw client ceiling, not a pipeline
	Setting  string // e.g. "96 in flight", "defaults"
	Missing  string // why the system has no figures (empty: it has)
	RowsPerS float64
	Cores    float64       // CPU used while draining (0: not measured)
	PeakRSS  float64       // bytes (0: not measured)
	FirstRow time.Duration // process start → first row readable (0: not measured)
	Latency  map[int]*Latency
}

// Latency is produce → row-readable at one steady rate.
type Latency struct {
	Samples []time.Duration // one per record seen, any order
	Lost    int             // records never seen readable
}

// Quantile returns the q-quantile (0 ≤ q ≤ 1) of the samples by the nearest-rank
// method, or 0 for none.
func (l *Latency) Quantile(q float64) time.Duration {
	if l == nil || len(l.Samples) == 0 {
		return 0
	}
	s := slices.Clone(l.Samples)
	slices.Sort(s)
	rank := int(q*float64(len(s))+0.5) - 1
	return s[min(max(rank, 0), len(s)-1)]
}

// best returns the ceiling with the most rows/s, or nil.
func (r *Report) best() *System {
	var b *System
	for i := range r.Systems {
		if s := &r.Systems[i]; s.Ceiling && s.Missing == "" && (b == nil || s.RowsPerS > b.RowsPerS) {
			b = s
		}
	}
	return b
}

// Ratios are the rows/s ratios of each pipeline against the other pipelines and
// against the best ceiling, e.g. "streampipe / Spark: 4.90×".
func (r *Report) Ratios() []string {
	var out []string
	var pipelines []*System
	for i := range r.Systems {
		if s := &r.Systems[i]; !s.Ceiling && s.Missing == "" {
			pipelines = append(pipelines, s)
		}
	}
	for i, a := range pipelines {
		for _, b := range pipelines[i+1:] {
			out = append(out, fmt.Sprintf("%s / %s: %.2f×", a.Name, b.Name, a.RowsPerS/b.RowsPerS))
		}
	}
	if best := r.best(); best != nil {
		for _, a := range pipelines {
			out = append(out, fmt.Sprintf("%s / best ceiling (%s): %.2f×", a.Name, best.Name, a.RowsPerS/best.RowsPerS))
		}
	}
	return out
}

// rows returns the table: a header of system names, then one row per figure.
func (r *Report) rows() [][]string {
	header := []string{""}
	for _, s := range r.Systems {
		header = append(header, s.Name)
	}
	table := [][]string{header}
	add := func(label string, cell func(s *System) string) {
		row := []string{label}
		for i := range r.Systems {
			s := &r.Systems[i]
			switch {
			case s.Missing != "":
				row = append(row, "n/a")
			default:
				row = append(row, cell(s))
			}
		}
		table = append(table, row)
	}
	add(fmt.Sprintf("rows/s (drain of %d)", r.Records), func(s *System) string { return fmt.Sprintf("%.0f", s.RowsPerS) })
	add("setting", func(s *System) string { return s.Setting })
	add("CPU while draining (cores)", func(s *System) string { return orDash(s.Cores > 0, fmt.Sprintf("%.2f", s.Cores)) })
	add("peak RSS (MB)", func(s *System) string { return orDash(s.PeakRSS > 0, fmt.Sprintf("%.0f", s.PeakRSS/(1<<20))) })
	add("start → first row", func(s *System) string { return orDash(s.FirstRow > 0, seconds(s.FirstRow)) })
	for _, rate := range r.Rates {
		add(fmt.Sprintf("p50 / p99 / max at %d/s", rate), func(s *System) string {
			l := s.Latency[rate]
			if l == nil || len(l.Samples) == 0 {
				return "—"
			}
			cell := fmt.Sprintf("%s / %s / %s", ms(l.Quantile(0.5)), ms(l.Quantile(0.99)), ms(l.Quantile(1)))
			if l.Lost > 0 {
				cell += fmt.Sprintf(" (%d unseen)", l.Lost)
			}
			return cell
		})
	}
	return table
}

func orDash(ok bool, s string) string {
	if !ok {
		return "—"
	}
	return s
}

// ms formats a latency in whole milliseconds.
func ms(d time.Duration) string { return fmt.Sprintf("%d ms", d.Milliseconds()) }

// seconds formats a duration in seconds with one decimal.
func seconds(d time.Duration) string { return fmt.Sprintf("%.1f s", d.Seconds()) }

// Text is the table aligned for a terminal, with the ratios, the missing systems
// and the notes under it.
func (r *Report) Text() string {
	heading := fmt.Sprintf("%s — %s\n", r.Date.UTC().Format("2006-01-02 15:04 MST"), r.Machine)
	if len(r.Versions) > 0 {
		heading += strings.Join(r.Versions, ", ") + "\n"
	}
	return textTable(heading, r.rows(), r.footer())
}

// Markdown is the same as Text for a Markdown page: a heading line, the table, the lines
// under it as a list.
func (r *Report) Markdown() string {
	heading := fmt.Sprintf("Measured %s on %s.", r.Date.UTC().Format("2006-01-02 15:04 MST"), r.Machine)
	if len(r.Versions) > 0 {
		heading += fmt.Sprintf(" %s.", strings.Join(r.Versions, ", "))
	}
	return markdownTable(heading, r.rows(), r.footer())
}

// textTable is heading, then rows aligned for a terminal (right-aligned columns),
// then the footer's lines.
func textTable(heading string, rows [][]string, footer []string) string {
	var sb strings.Builder
	sb.WriteString(heading)
	tw := tabwriter.NewWriter(&sb, 0, 0, 2, ' ', tabwriter.AlignRight)
	for _, row := range rows {
		fmt.Fprintf(tw, "%s\t\n", strings.Join(row, "\t"))
	}
	_ = tw.Flush() // a strings.Builder does not fail
	for _, line := range footer {
		fmt.Fprintf(&sb, "%s\n", line)
	}
	return sb.String()
}

// markdownTable is heading as a paragraph, then rows as a markdown table (the first
// row its header, the columns after the first right-aligned), then the footer's lines
// as a list.
func markdownTable(heading string, rows [][]string, footer []string) string {
	var sb strings.Builder
	sb.WriteString(heading + "\n\n")
	for i, row := range rows {
		fmt.Fprintf(&sb, "| %s |\n", strings.Join(row, " | "))
		if i == 0 {
			fmt.Fprintf(&sb, "|---%s|\n", strings.Repeat("|--:", len(row)-1))
		}
	}
	if len(footer) > 0 {
		sb.WriteString("\n")
		for _, line := range footer {
			fmt.Fprintf(&sb, "- %s\n", line)
		}
	}
	return sb.String()
}

// footer is what follows the table: ratios, why a system has no figures, notes.
func (r *Report) footer() []string {
	out := r.Ratios()
	for _, s := range r.Systems {
		if s.Missing != "" {
			out = append(out, fmt.Sprintf("%s: no figures: %s", s.Name, s.Missing))
		}
	}
	return append(out, r.Notes...)
}
