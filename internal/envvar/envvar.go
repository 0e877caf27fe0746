// Package envvar reads settings from environment variables, collecting what is wrong
// with them so that one error names every bad variable. Mains use it; library
// packages take their settings as arguments.
package envvar

import (
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Reader reads variables through a lookup function (os.LookupEnv in a main) and
// collects what is wrong with them.
type Reader struct {
	lookup func(string) (string, bool)
	errs   []error
	warns  []string
	vars   []Var
	seen   map[string]bool
	group  string // the group of the variables being read (Group)
	// refused are the secrets Secret refused, by name.
	refused map[string]bool
}

// Var is a variable a Reader was asked for, with the default and the meaning it was
// given: the one declaration of the variable, which a program's -h and
// docs/configuration.md are made from.
type Var struct {
	Name, Default string
	// Help says what the variable means, in Markdown (`code`, [links](page.md)).
	Help string
	// Group names the settings of a server the variable belongs to (e.g. "Kafka"),
	// which every program that reaches the server reads the same way; "" for a
	// program's own.
	Group string
}

// Group makes the variables read until end is called members of group name: the
// settings of a server, read by one function (e.g. Cassandra) in every program.
func (e *Reader) Group(name string) (end func()) {
	outer := e.group
	e.group = name
	return func() { e.group = outer }
}

// Vars lists the variables read so far, in the order first read: what a program's
// usage lists, read with an empty environment.
func (e *Reader) Vars() []Var { return e.vars }

// get looks name up and records that it is read, with its default and meaning.
func (e *Reader) get(name, def, help string) (string, bool) {
	if !e.seen[name] {
		if e.seen == nil {
			e.seen = map[string]bool{}
		}
		e.seen[name] = true
		e.vars = append(e.vars, Var{Name: name, Default: def, Help: help, Group: e.group})
	}
	return e.lookup(name)
}

// NewReader returns a Reader reading through lookup.
func NewReader(lookup func(string) (string, bool)) *Reader {
	return &Reader{lookup: lookup}
}

// Err is every problem found so far, joined; nil if none.
func (e *Reader) Err() error { return errors.Join(e.errs...) }

// Str is the variable, trimmed, or def when it is unset or blank; help says what it
// means (so do the help arguments of the other methods).
func (e *Reader) Str(name, def, help string) string {
	if v, ok := e.get(name, def, help); ok && strings.TrimSpace(v) != "" {
		return strings.TrimSpace(v)
	}
	return def
}

// Lookup is the variable, trimmed, and whether it is set and not blank; def is only
// what the usage shows as its default. For a library that applies its own defaults
// and must know whether the variable overrides another source (a profile file).
func (e *Reader) Lookup(name, def, help string) (string, bool) {
	v, ok := e.get(name, def, help)
	v = strings.TrimSpace(v)
	return v, ok && v != ""
}

// Refuse reports variable name, if it is set, as one the program does not take,
// saying what to use instead: for a variable another tool reads with the same
// settings (the temporal CLI), which would otherwise be ignored without a word. Its
// value is not shown (it may be key material), and it is not listed in the usage.
func (e *Reader) Refuse(name, instead string) {
	if v, ok := e.lookup(name); ok && strings.TrimSpace(v) != "" {
		e.errs = append(e.errs, fmt.Errorf("%s is set, and streampipe does not take it: %s", name, instead))
	}
}

// Warn records a setting that is taken but unsafe: the program logs it at every
// start (Warnings).
func (e *Reader) Warn(format string, args ...any) {
	e.warns = append(e.warns, fmt.Sprintf(format, args...))
}

// Warnings are the unsafe settings found, each once, in the order found.
func (e *Reader) Warnings() []string { return e.warns }

// PlaintextPassword warns, when password is set and tlsOn is false, that the
// password of variable passwordVar goes to the server in plaintext, readable by
// anyone on the path: set tlsVar=1.
func (e *Reader) PlaintextPassword(password, passwordVar string, tlsOn bool, tlsVar string) {
	if password != "" && !tlsOn {
		e.Warn("%s is sent to the server in plaintext (%s is not 1): anyone on the network path can read it; set %s=1",
			passwordVar, tlsVar, tlsVar)
	}
}

// Add records a problem the caller found, in a value that may not come from a
// variable (e.g. a profile file): err says where the value came from.
func (e *Reader) Add(err error) { e.errs = append(e.errs, err) }

// Secret is a password, key or token: the variable exactly as set (it may have
// spaces), or the content of the file that name+"_FILE" names without its final line
// break, as Docker and Kubernetes secrets deliver them; "" when neither is set.
// Setting both is an error, and so is a secret CheckSecret refuses (a second line
// break, a CR of a CR LF, a NUL, any other control character) or an empty file. The
// value never appears in an error, not even in part: only the variable's name and
// the kind of problem.
func (e *Reader) Secret(name, help string) string {
	v, set := e.get(name, "", help)
	path, fromFile := e.get(name+"_FILE", "", "a file holding `"+name+
		"` instead (a Docker or Kubernetes secret; its final line break dropped); setting both is an error")
	refuse := func(err error) string {
		e.errs = append(e.errs, err)
		if e.refused == nil {
			e.refused = map[string]bool{}
		}
		e.refused[name] = true
		return ""
	}
	from := name
	switch {
	case set && v != "" && fromFile && path != "":
		return refuse(fmt.Errorf("%s and %s_FILE are both set: set one", name, name))
	case fromFile && path != "":
		b, err := os.ReadFile(path)
		if err != nil {
			return refuse(fmt.Errorf("%s_FILE=%q: cannot read the file: %v", name, path, errors.Unwrap(err)))
		}
		if v = strings.TrimSuffix(string(b), "\n"); v == "" {
			return refuse(fmt.Errorf("%s_FILE=%q: the file is empty", name, path))
		}
		from = name + "_FILE"
	}
	if err := CheckSecret(secretNoun(name), v); err != nil {
		return refuse(fmt.Errorf("%s: %w", from, err))
	}
	return v
}

// Refused reports whether Secret(name) refused what was set: then it is not also
// reported as missing.
func (e *Reader) Refused(name string) bool { return e.refused[name] }

// SecretFrom is the variable a secret read with Secret(name) came from: name+"_FILE"
// when that is set, else name. For an error about the secret found later.
func (e *Reader) SecretFrom(name string) string {
	if path, ok := e.lookup(name + "_FILE"); ok && path != "" {
		return name + "_FILE"
	}
	return name
}

// CheckSecret says what is wrong with secret s, the noun (e.g. "password"), if
// anything: a control character (a line break, the CR of a CR LF, a NUL…) or bytes
// that are not UTF-8. No server takes those in a credential, and they mostly come
// from a file that was written carelessly. The error never holds any of s.
func CheckSecret(noun, s string) error {
	if !utf8.ValidString(s) {
		return fmt.Errorf("the %s is not valid UTF-8", noun)
	}
	for _, r := range s {
		var hint string
		switch {
		case r == '\n':
			hint = " (a line break: a blank line at the end?)"
		case r == '\r':
			hint = " (a carriage return: CR LF line breaks?)"
		case r == 0:
			hint = " (a NUL byte)"
		case !unicode.IsControl(r):
			continue
		}
		return fmt.Errorf("the %s has a control character%s", noun, hint)
	}
	return nil
}

// secretNoun is what the secret of variable name is, for an error.
func secretNoun(name string) string {
	name = strings.TrimSuffix(name, "_FILE")
	switch {
	case strings.HasSuffix(name, "PASSWORD"):
		return "password"
	case strings.HasSuffix(name, "API_KEY"):
		return "API key"
	case strings.HasSuffix(name, "USERNAME"):
		return "user name"
	}
	return "secret"
}

// List is the variable (or def) split at commas, without blanks.
func (e *Reader) List(name, def, help string) []string {
	var out []string
	for _, s := range strings.Split(e.Str(name, def, help), ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

// Positive is the variable as a whole number of at least 1, or def when unset.
func (e *Reader) Positive(name string, def int, help string) int {
	s := e.Str(name, strconv.Itoa(def), help)
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 {
		e.Fail(name, s, "a positive whole number")
		return def
	}
	return n
}

// Duration is the variable as a positive duration, or def when unset.
func (e *Reader) Duration(name string, def time.Duration, help string) time.Duration {
	return e.duration(name, def, 1, `a positive duration such as "5ms" or "2s"`, help)
}

// Wait is the variable as a duration of 0 or more (0: no wait), or def when unset.
func (e *Reader) Wait(name string, def time.Duration, help string) time.Duration {
	return e.duration(name, def, 0, `a duration of 0 or more such as "0s" or "50ms"`, help)
}

func (e *Reader) duration(name string, def, least time.Duration, want, help string) time.Duration {
	s := e.Str(name, def.String(), help)
	d, err := time.ParseDuration(s)
	if err != nil || d < least {
		e.Fail(name, s, want)
		return def
	}
	return d
}

// Fail records that variable name has a bad value, and what was wanted.
func (e *Reader) Fail(name, value, want string) {
	e.errs = append(e.errs, fmt.Errorf("%s=%q: want %s", name, value, want))
}

// ListenAddr is the variable as an address to listen on, host:port with a port
// number (the host may be empty: every interface), or "" when it is "off". A value
// that is not such an address is reported as malformed.
func (e *Reader) ListenAddr(name, def, help string) string {
	s := e.Str(name, def, help)
	if s == "off" {
		return ""
	}
	if !wellFormed(s, false, true) {
		e.Fail(name, s, `a well-formed listen address such as "127.0.0.1:9101" or ":9101", or "off"; this one is malformed`)
		return ""
	}
	return s
}

// Addrs is the variable (or def) as a comma list of at least one address to
// connect to: host:port, or host alone (the client's default port) unless needPort.
// The malformed ones are named.
func (e *Reader) Addrs(name, def string, needPort bool, help string) []string {
	list := e.List(name, def, help)
	var bad []string
	for _, a := range list {
		if !wellFormed(a, true, needPort) {
			bad = append(bad, a)
		}
	}
	want := "a comma list of host or host:port"
	if needPort {
		want = "a comma list of host:port"
	}
	switch {
	case len(list) == 0:
		e.Fail(name, e.Str(name, def, help), want)
	case len(bad) == 1:
		e.Fail(name, e.Str(name, def, help), want+"; "+bad[0]+" is malformed")
	case len(bad) > 1:
		e.Fail(name, e.Str(name, def, help), want+"; "+strings.Join(bad, ", ")+" are malformed")
	}
	return list
}

// HostPortOK reports whether addr is a well-formed address to connect to, host:port.
func HostPortOK(addr string) bool { return wellFormed(addr, true, true) }

// wellFormed reports whether addr is host:port with a port number (0 to 65535), or a
// host alone unless needPort; the host may be empty only unless needHost.
func wellFormed(addr string, needHost, needPort bool) bool {
	host, port, err := net.SplitHostPort(addr)
	if err != nil && !needPort && !strings.Contains(addr, ":") {
		host, port, err = addr, "0", nil
	}
	n, perr := strconv.Atoi(port)
	return err == nil && perr == nil && n >= 0 && n <= 65535 && !strings.ContainsAny(host, " /") && (host != "" || !needHost)
}

// Checked is the variable, trimmed, or def when it is unset or blank, after check: an
// error from check, which says what is wanted (e.g. "want a letter, then …"), is
// recorded against the variable with its value as typed.
func (e *Reader) Checked(name, def string, check func(string) error, help string) string {
	s := e.Str(name, def, help)
	if err := check(s); err != nil {
		e.errs = append(e.errs, fmt.Errorf("%s=%q: %v", name, s, err))
	}
	return s
}
