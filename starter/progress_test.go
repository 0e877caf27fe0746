package main

import (
	"bytes"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"

	"github.com/streampipe/streampipe/workflows"
)

var midRun = workflows.Progress{TicksDone: 19, TicksTotal: 120, RecordsPublished: 19,
	RecordsBySource: workflows.SourceCounts{Faker: 19}, LateTicks: 0, CurrentSource: "faker"}

// On a terminal the line is redrawn in place and never reaches the last column,
// however narrow the terminal: detail goes first.
func TestProgressFitsTheTerminal(t *testing.T) {
	for _, width := range []int{200, 100, 80, 60, 40, 20, 10} {
		var out bytes.Buffer
		b := &progressBar{w: &out, width: func() int { return width }, records: "users", said: map[string]bool{}}
		b.draw(midRun)
		b.waiting("no worker polls task queue user-automation: start one (`stack/stack.sh up worker`, or bin/worker)")
		for _, line := range strings.Split(out.String(), "\r\033[K")[1:] {
			assert.LessOrEqual(t, utf8.RuneCountInString(line), width-1, "width %d: %q", width, line)
		}
		assert.Contains(t, out.String(), "19/", "width %d", width)
	}
	var out bytes.Buffer
	b := &progressBar{w: &out, width: func() int { return 80 }, records: "users", said: map[string]bool{}}
	b.draw(midRun)
	assert.Equal(t, "\r\033[K[#---------] 19/120 ticks · 19 users (randomuser 0, faker 19) · late 0", out.String(),
		"at 80 columns the current source goes first, then the bar shrinks")
}

// On anything but a terminal the progress is plain lines: no carriage return, no
// escape sequence, a line at most every plainEvery when it changed, the last state
// at the end, and each explanation once.
func TestProgressOnANonTerminal(t *testing.T) {
	var out bytes.Buffer
	b := newProgressBar(&out, "transactions")
	clock := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	b.now = func() time.Time { return clock }
	at := func(ticks int, after time.Duration) {
		clock = clock.Add(after)
		p := midRun
		p.TicksDone, p.RecordsPublished, p.RecordsBySource.Faker = ticks, ticks, ticks
		b.draw(p)
	}
	at(19, 0)
	at(20, time.Second) // within plainEvery: not yet
	b.line("retrying: tick 21: … (attempt 2)")
	b.line("retrying: tick 21: … (attempt 2)")
	at(21, 4*time.Second) // 5 s after the last line
	at(21, 10*time.Second)
	at(22, time.Second)
	b.finish()
	assert.NotContains(t, out.String(), "\r")
	assert.NotContains(t, out.String(), "\033")
	assert.Equal(t, `[####--------------------------] 19/120 ticks · 19 transactions (randomuser 0, faker 19) · late 0 · source faker
retrying: tick 21: … (attempt 2)
[#####-------------------------] 21/120 ticks · 21 transactions (randomuser 0, faker 21) · late 0 · source faker
[#####-------------------------] 22/120 ticks · 22 transactions (randomuser 0, faker 22) · late 0 · source faker
`, out.String())
}

// A replay's bar counts the dead letters read of those it started with, and fits
// the terminal as a run's does.
func TestReplayProgress(t *testing.T) {
	p := workflows.DLQReplayProgress{Total: 1000, Pages: 3}
	p.Read, p.Selected, p.Replayed, p.AlreadyReplayed, p.LoopBound, p.Failed = 300, 120, 100, 5, 10, 5
	var out bytes.Buffer
	newProgressBar(&out, "dead letters").drawReplay(p)
	assert.Equal(t, "[#########---------------------] 300/1000 dead letters read · 120 selected · 100 replayed · 15 skipped · 5 failed · 3 pages\n", out.String())
	for _, width := range []int{120, 80, 40, 20} {
		var out bytes.Buffer
		b := &progressBar{w: &out, width: func() int { return width }, records: "dead letters", said: map[string]bool{}}
		b.drawReplay(p)
		assert.LessOrEqual(t, utf8.RuneCountInString(strings.TrimPrefix(out.String(), "\r\033[K")), width-1, "width %d", width)
		assert.Contains(t, out.String(), "300/", "width %d", width)
	}
}
