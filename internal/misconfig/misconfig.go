// Package misconfig is the one kind of error a program stops with when a server
// refuses its settings for good: TLS on one side only, credentials a listener does not
// take or refuses, a mechanism it does not enable, a certificate not trusted. Each
// server's client turns its library's failures into an *Error (kafkasec for Kafka,
// config for Temporal, streaming's Connect for Cassandra), with words that name
// the variables to set; every program then treats it alike: not an outage to retry,
// exit 2 at start (cli.ExitCode), and the diagnosis on a running worker's /healthz
// (Public).
package misconfig

import (
	"cmp"
	"errors"
)

// Error is a misconfiguration a server revealed.
type Error struct {
	msg    string // what happened and which variables to set; may name a user or addresses, never a secret
	public string // msg without them, for /healthz; "" when msg names none
	err    error  // what the library said, for the log
}

// New returns the diagnosis msg of err, what the library reported. msg names the
// variables to set, and no user or address: /healthz shows it as it is.
func New(msg string, err error) *Error { return &Error{msg: msg, err: err} }

// WithPublic is New for a msg that names a user or the servers' addresses, and
// public, the same without them, for /healthz.
func WithPublic(msg, public string, err error) *Error {
	return &Error{msg: msg, public: public, err: err}
}

func (e *Error) Error() string { return e.msg + ": " + e.err.Error() }
func (e *Error) Unwrap() error { return e.err }

// Public is the diagnosis without a user's name, an address or anything a server
// said: what /healthz may show.
func (e *Error) Public() string { return cmp.Or(e.public, e.msg) }

// As returns the *Error in err's chain, if any.
func As(err error) (*Error, bool) { return errors.AsType[*Error](err) }

// Is reports whether err is, or wraps, an *Error.
func Is(err error) bool {
	_, ok := As(err)
	return ok
}
