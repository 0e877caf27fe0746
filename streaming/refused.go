package streaming

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"
	"time"

	gocql "github.com/apache/cassandra-gocql-driver/v2"

	"github.com/streampipe/streampipe/internal/misconfig"
)

// refusal is how a cluster refuses a session for good, as gocql words it (gocql
// hands its errors, those of crypto/tls included, on as plain strings), and what to
// do about it.
type refusal struct {
	says []string // any of these in the error
	why  string   // what it means and what to set
}

// credentials are refused with the user's name in the log, without it on /healthz.
var credentials = []string{"password are incorrect", "authentication required"}

var refusals = []refusal{
	{[]string{"x509: certificate signed by unknown authority"},
		"presented a certificate that is not trusted: no CA of CASSANDRA_TLS_CA_FILE (unset: of the system) signed it; " +
			"set CASSANDRA_TLS_CA_FILE to the CA certificate that signed the cluster's"},
	{[]string{"x509: certificate is valid for"},
		"presented a certificate for other names than the host dialled: connect by a name it holds, " +
			"or set CASSANDRA_TLS_SERVER_NAME to one"},
	{[]string{"x509: certificate has expired or is not yet valid"},
		"presented a certificate that has expired or is not yet valid: the cluster must renew it (or check this machine's clock)"},
	{[]string{"tls: certificate required", "tls: bad certificate", "tls: unknown certificate authority", "tls: certificate expired"},
		"refused this client's certificate (mutual TLS): set CASSANDRA_TLS_CERT_FILE and CASSANDRA_TLS_KEY_FILE " +
			"to a valid client certificate and key signed by a CA the cluster trusts"},
	{[]string{"first record does not look like a TLS handshake"},
		"does not speak TLS on that port: unset CASSANDRA_TLS, or point CASSANDRA_HOSTS at the cluster's TLS port"},
}

// connectRefused says why cfg's cluster refused a session for good, a
// *misconfig.Error, or returns nil if it may be down for now: then retrying may cure
// err.
func connectRefused(cfg Config, err error) error {
	msg := err.Error()
	says := func(s string) bool { return strings.Contains(msg, s) }
	public := named("cassandra", cfg.HostsFrom) // no addresses on /healthz
	if slices.ContainsFunc(credentials, says) {
		const check = ": check CASSANDRA_USERNAME and CASSANDRA_PASSWORD (and that the cluster uses PasswordAuthenticator)"
		return misconfig.WithPublic(fmt.Sprintf("%s rejected the credentials of user %q%s", cfg.cassandraAt(), cfg.Username, check),
			public+" rejected the credentials"+check, err)
	}
	for _, r := range refusals {
		if slices.ContainsFunc(r.says, says) {
			return misconfig.WithPublic(cfg.cassandraAt()+" "+r.why, public+" "+r.why, err)
		}
	}
	// A server that wants TLS drops a plaintext client without a word.
	if cfg.TLS == nil && expectsTLS(cfg.Hosts[0]) {
		const why = " expects TLS: set CASSANDRA_TLS=1 (and CASSANDRA_TLS_CA_FILE to the CA that signed its certificate)"
		return misconfig.WithPublic(cfg.cassandraAt()+why, public+why, err)
	}
	return nil
}

// expectsTLS reports whether the server at host (host or host:port, CQL's port 9042 by
// default) answers a TLS handshake with a certificate. It trusts no CA: a
// certificate that fails verification is the answer sought, and nothing is sent.
func expectsTLS(host string) bool {
	if _, _, err := net.SplitHostPort(host); err != nil {
		host = net.JoinHostPort(host, "9042")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	conn, err := (&net.Dialer{}).DialContext(ctx, "tcp", host)
	if err != nil {
		return false
	}
	defer conn.Close()
	err = tls.Client(conn, &tls.Config{RootCAs: x509.NewCertPool(), ServerName: "localhost"}).HandshakeContext(ctx)
	var unverified *tls.CertificateVerificationError
	return errors.As(err, &unverified)
}

// inLocalDC checks that hosts, the hosts of a session, hold one of cfg.LocalDC, if
// set: otherwise the driver would quietly send every write to another data centre.
func inLocalDC(cfg Config, hosts []*gocql.HostInfo) error {
	if cfg.LocalDC == "" {
		return nil
	}
	var dcs []string
	for _, h := range hosts {
		if h.DataCenter() == cfg.LocalDC {
			return nil
		}
		dcs = append(dcs, h.DataCenter())
	}
	slices.Sort(dcs)
	return fmt.Errorf("%s has no host in the local data centre %q (CASSANDRA_LOCAL_DC): its data centres are %s; "+
		"set CASSANDRA_LOCAL_DC to one of them (names are case-sensitive)",
		cfg.cassandraAt(), cfg.LocalDC, strings.Join(slices.Compact(dcs), ", "))
}
