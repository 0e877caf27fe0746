package cli

import (
	"io"
	"log/slog"
	"strings"

	"github.com/streampipe/streampipe/internal/envvar"
)

// LogFormat is how a program writes its log: LOG_FORMAT.
type LogFormat string

const (
	// LogText is slog's text handler, key=value pairs: the default, for people.
	LogText LogFormat = "text"
	// LogJSON is slog's JSON handler, one object a line: for log collectors.
	LogJSON LogFormat = "json"
)

// ReadLogFormat reads LOG_FORMAT through e, text by default; any other value than
// text or json is recorded against it, so that the program refuses it before it
// connects anywhere.
func ReadLogFormat(e *envvar.Reader) LogFormat {
	s := e.Str("LOG_FORMAT", string(LogText), "`text`: slog's key=value lines, for people; `json`: one JSON object a line, for log collectors "+
		"(see [observability](observability.md#logs)); for the starter, only the Temporal SDK's warnings on stderr: its commands' own output stays text")
	f := LogFormat(strings.ToLower(s))
	if f != LogText && f != LogJSON {
		e.Fail("LOG_FORMAT", s, "text or json")
	}
	return f
}

// Logger is a logger writing to w in format f, from level up.
func (f LogFormat) Logger(w io.Writer, level slog.Leveler) *slog.Logger {
	opts := &slog.HandlerOptions{Level: level}
	if f == LogJSON {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}
