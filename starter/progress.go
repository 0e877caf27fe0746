package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"time"
	"unicode/utf8"

	"golang.org/x/term"

	"github.com/streampipe/streampipe/workflows"
)

// plainEvery is how often, at most, the progress is written as a plain line where
// it cannot be redrawn in place.
const plainEvery = 5 * time.Second

// progressBar shows a run's progress. On a terminal it is one line redrawn in place
// that never wraps: it fits the terminal's width, dropping detail first. On anything
// else (a file, a pipe, /dev/null) it writes a plain line when the progress has
// changed, at most every plainEvery, and the last state at the end; never a carriage
// return. Lines that explain something (why a tick fell
// back to the faker, why a tick is retried) are printed once each, above the bar.
type progressBar struct {
	w io.Writer
	// width is the terminal's width in columns; nil when w is not a terminal.
	width func() int
	// records is what the run publishes, as the bar counts them: "users".
	records string
	last    string
	said    map[string]bool // lines printed
	lastErr string          // the reason of the last fallback shown
	// now is the clock; written is when the last plain line was, pending a state
	// not written yet.
	now     func() time.Time
	written time.Time
	pending string
}

// newProgressBar shows the progress of a run whose records are called records
// (datasets.Dataset.RecordsNoun).
func newProgressBar(w io.Writer, records string) *progressBar {
	b := &progressBar{w: w, records: records, said: map[string]bool{}, now: time.Now}
	if f, ok := w.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		fd := int(f.Fd())
		b.width = func() int {
			if cols, _, err := term.GetSize(fd); err == nil && cols > 0 {
				return cols
			}
			return 80
		}
	}
	return b
}

func (b *progressBar) draw(p workflows.Progress) {
	// LastError is "tick N: reason"; a reason is shown once, not at every tick.
	if _, reason, _ := strings.Cut(p.LastError, ": "); reason != "" && reason != b.lastErr {
		b.lastErr = reason
		b.line("fell back to the faker: " + p.LastError)
	}
	b.status(b.fit(b.variants(p)))
}

// drawReplay shows a DLQReplay's progress: the dead letters read of those the
// replay started with, and what became of the selected ones.
func (b *progressBar) drawReplay(p workflows.DLQReplayProgress) {
	bar := meter(p.Read, p.Total)
	read := fmt.Sprintf("%d/%d %s read", p.Read, p.Total, b.records)
	counts := fmt.Sprintf(" · %d selected · %d replayed · %d skipped · %d failed",
		p.Selected, p.Replayed, p.AlreadyReplayed+p.LoopBound, p.Failed)
	b.status(b.fit([]string{
		bar(30) + read + counts + fmt.Sprintf(" · %d pages", p.Pages),
		bar(30) + read + counts,
		bar(10) + read + counts,
		bar(10) + read,
		read,
	}))
}

// meter draws a bar of done out of total, width characters wide inside brackets.
func meter(done, total int) func(width int) string {
	return func(width int) string {
		filled := 0
		if total > 0 {
			filled = min(width, width*done/total)
		}
		return "[" + strings.Repeat("#", filled) + strings.Repeat("-", width-filled) + "] "
	}
}

// variants renders p from the most detailed to the least.
func (b *progressBar) variants(p workflows.Progress) []string {
	bar := meter(p.TicksDone, p.TicksTotal)
	ticks := fmt.Sprintf("%d/%d ticks", p.TicksDone, p.TicksTotal)
	records := fmt.Sprintf(" · %d %s", p.RecordsPublished, b.records)
	sources := fmt.Sprintf(" (randomuser %d, faker %d)", p.RecordsBySource.RandomUser, p.RecordsBySource.Faker)
	late := fmt.Sprintf(" · late %d", p.LateTicks)
	source := ""
	if p.CurrentSource != "" {
		source = " · source " + p.CurrentSource
	}
	return []string{
		bar(30) + ticks + records + sources + late + source,
		bar(30) + ticks + records + sources + late,
		bar(10) + ticks + records + sources + late,
		bar(20) + ticks + records + late,
		bar(10) + ticks + records,
		ticks + records,
		ticks,
	}
}

// fit is the first variant that fits the terminal's width, the last one cut to fit
// if none does; on a non-terminal, the first.
func (b *progressBar) fit(variants []string) string {
	if b.width == nil {
		return variants[0]
	}
	room := b.width() - 1 // a line that fills the last column wraps on some terminals
	for _, v := range variants {
		if utf8.RuneCountInString(v) <= room {
			return v
		}
	}
	return cut(variants[len(variants)-1], room)
}

// cut shortens s to at most n runes, marking the cut with "…".
func cut(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	if n < 1 {
		return ""
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}

// waiting shows why there is no progress to show.
func (b *progressBar) waiting(why string) {
	if b.width != nil {
		why = cut(why, b.width()-1)
	}
	b.status(why)
}

// status shows s as the current state.
func (b *progressBar) status(s string) {
	if s == b.last {
		return
	}
	b.last = s
	if b.width != nil {
		fmt.Fprintf(b.w, "\r\033[K%s", s)
		return
	}
	b.pending = s
	if now := b.now(); b.written.IsZero() || now.Sub(b.written) >= plainEvery {
		b.flush(now)
	}
}

// flush writes the state not written yet as a plain line.
func (b *progressBar) flush(now time.Time) {
	if b.pending != "" {
		fmt.Fprintln(b.w, b.pending)
		b.pending, b.written = "", now
	}
}

// line prints s on a line of its own above the status, once.
func (b *progressBar) line(s string) {
	if b.said[s] {
		return
	}
	b.said[s] = true
	if b.width != nil {
		fmt.Fprintf(b.w, "\r\033[K%s\n%s", s, b.last)
	} else {
		fmt.Fprintln(b.w, s)
	}
}

// finish ends the display: the line is left as it is on a terminal; elsewhere the
// last state is written.
func (b *progressBar) finish() {
	if b.width != nil {
		if b.last != "" {
			fmt.Fprintln(b.w)
		}
		return
	}
	b.flush(b.now())
}
