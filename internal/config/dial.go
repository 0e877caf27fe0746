package config

// This file connects the worker and the starter to Temporal with the settings read
// here (address, namespace, TLS, API key), and says in words why a connection was
// refused: an untrusted server certificate, a client certificate the server turned
// down, a wrong API key. gRPC reports these as text inside an Unavailable or
// Unauthenticated status; the words here name the variable to look at.

import (
	"context"
	"strings"

	"go.temporal.io/sdk/client"
	tlog "go.temporal.io/sdk/log"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/streampipe/streampipe/internal/misconfig"
)

// DialTemporal connects to Temporal as cfg says, logging through logger.
func DialTemporal(ctx context.Context, cfg Producer, logger tlog.Logger) (client.Client, error) {
	opts := cfg.TemporalOptions
	opts.HostPort, opts.Namespace, opts.Logger = cfg.TemporalAddress, cfg.TemporalNamespace, logger
	c, err := client.DialContext(ctx, opts)
	if err != nil {
		return nil, ExplainTemporal(err, opts)
	}
	return c, nil
}

// tlsFailures are what a failed TLS handshake looks like in a gRPC error, and what
// it means to whoever configures the client. The "remote error" ones are alerts
// the server sent about the client's certificate.
var tlsFailures = []struct{ text, meaning string }{
	{"x509: certificate signed by unknown authority",
		"the server's certificate is not trusted: it is not signed by the CA of TEMPORAL_TLS_SERVER_CA_CERT_PATH (or, if unset, by one the system trusts)"},
	{"x509: certificate is valid for", "the server's certificate is not for this host name: TEMPORAL_TLS_SERVER_NAME sets the name to check"},
	{"x509: certificate is not valid for any names", "the server's certificate is not for this host name: TEMPORAL_TLS_SERVER_NAME sets the name to check"},
	{"x509: certificate has expired or is not yet valid", "the server's certificate has expired (or is not valid yet)"},
	{"remote error: tls: expired certificate", "the server refused the client certificate (TEMPORAL_TLS_CLIENT_CERT_PATH) as expired"},
	{"remote error: tls: unknown certificate authority", "the server does not trust the CA that signed the client certificate (TEMPORAL_TLS_CLIENT_CERT_PATH)"},
	{"remote error: tls: certificate required", "the server wants a client certificate signed by a CA it trusts: none is set " +
		"(TEMPORAL_TLS_CLIENT_CERT_PATH and TEMPORAL_TLS_CLIENT_KEY_PATH), or the one set is not from such a CA"},
	{"remote error: tls: bad certificate", "the server refused the client certificate (TEMPORAL_TLS_CLIENT_CERT_PATH)"},
	{"first record does not look like a TLS handshake", "the server does not speak TLS: set TEMPORAL_TLS=false, or point TEMPORAL_ADDRESS at its TLS port"},
}

// ExplainTemporal turns err, a failure to connect with opts, into a *misconfig.Error saying
// what it means in terms of the TEMPORAL_* settings, when it is a refused credential
// or a TLS failure (a connection that reached a server and was refused, by it or by
// the client's own TLS checks: the settings are wrong, not the server down); other
// errors are returned as they are.
func ExplainTemporal(err error, opts client.Options) error {
	switch status.Code(err) {
	case codes.Unauthenticated:
		if opts.Credentials == nil {
			return misconfig.New("Temporal wants credentials: set TEMPORAL_API_KEY (or a client certificate)", err)
		}
		return misconfig.New("Temporal refused the API key (TEMPORAL_API_KEY)", err)
	case codes.PermissionDenied:
		return misconfig.New("Temporal does not let these credentials into namespace "+opts.Namespace, err)
	}
	msg := err.Error()
	for _, f := range tlsFailures {
		if strings.Contains(msg, f.text) {
			return misconfig.New(f.meaning, err)
		}
	}
	closed := strings.Contains(msg, "server preface") || strings.Contains(msg, "connection reset") || strings.Contains(msg, "broken pipe")
	switch {
	case closed && opts.ConnectionOptions.TLS == nil:
		return misconfig.New("the server closed the plaintext connection: does it expect TLS? (TEMPORAL_TLS=true)", err)
	case closed:
		// With TLS 1.3 the server checks the client's certificate after the client
		// has finished its handshake, so its alert may be lost in the closed
		// connection.
		return misconfig.New("the server closed the connection at the TLS handshake: it most likely refused the client certificate "+
			"(TEMPORAL_TLS_CLIENT_CERT_PATH: missing, expired, or from a CA it does not trust)", err)
	}
	return err
}
