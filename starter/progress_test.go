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

var midRun = workflows.Progress{TicksDone: 19, TicksTotal: 120, UsersPublished: 19,
	UsersBySource: workflows.SourceCounts{Faker: 19}, LateTicks: 0, CurrentSource: "faker"}

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
		p.TicksDone, p.UsersPublished, p.UsersBySource.Faker = ticks, ticks, ticks
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
