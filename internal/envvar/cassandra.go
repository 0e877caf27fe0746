package envvar

import "crypto/tls"

// Cassandra is how a program reaches Cassandra, read the one way by every program
// that does (Reader.Cassandra).
type Cassandra struct {
	Hosts              []string    // CASSANDRA_HOSTS, default localhost:9042
	Username, Password string      // CASSANDRA_USERNAME, CASSANDRA_PASSWORD (or their _FILE); "": no authentication
	TLS                *tls.Config // CASSANDRA_TLS*; nil: plaintext
	LocalDC            string      // CASSANDRA_LOCAL_DC; "": any data centre
}

// Cassandra reads the Cassandra connection settings, and warns about a password that
// would go to the server without TLS.
func (e *Reader) Cassandra() Cassandra {
	defer e.Group("Cassandra")()
	c := Cassandra{
		Hosts:    e.Addrs("CASSANDRA_HOSTS", "localhost:9042", false, "Cassandra contact points, a comma list of host or host:port (port 9042 when none is given)"),
		Username: e.Secret("CASSANDRA_USERNAME", "Cassandra user (PasswordAuthenticator); unset: no authentication"),
		Password: e.Secret("CASSANDRA_PASSWORD", "that user's password (never logged)"),
		TLS:      e.TLS("CASSANDRA", "the Cassandra nodes"),
	}
	c.LocalDC = e.Str("CASSANDRA_LOCAL_DC", "", "the data centre to write in (the streaming worker) or read in (`starter verify`), DC-aware; unset: any")
	e.PlaintextPassword(c.Password, e.SecretFrom("CASSANDRA_PASSWORD"), c.TLS != nil, "CASSANDRA_TLS")
	return c
}
