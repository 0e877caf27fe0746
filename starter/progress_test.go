package main

import (
	"bytes"
	"strings"
	"testing"
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

// On anything but a terminal each change is a plain line: no carriage return, no
// escape sequence, and a state that does not change is not repeated.
func TestProgressOnANonTerminal(t *testing.T) {
	var out bytes.Buffer
	b := newProgressBar(&out, "transactions")
	b.draw(midRun)
	b.draw(midRun)
	b.line("retrying: tick 1: … (attempt 2)")
	b.line("retrying: tick 1: … (attempt 2)")
	b.finish()
	assert.NotContains(t, out.String(), "\r")
	assert.NotContains(t, out.String(), "\033")
	assert.Equal(t, "[####--------------------------] 19/120 ticks · 19 transactions (randomuser 0, faker 19) · late 0 · source faker\n"+
		"retrying: tick 1: … (attempt 2)\n", out.String())
}
