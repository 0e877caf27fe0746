// Package temporaltest puts a secured front before the local stack's Temporal for
// tests: the proxy of internal/devstack/grpcproxy, with certificates made for the test,
// requiring mutual TLS and an API key. Only tests use it.
package temporaltest

import (
	"net"
	"testing"

	"github.com/streampipe/streampipe/internal/devstack/grpcproxy"
	"github.com/streampipe/streampipe/internal/testkit/stacktest"
	"github.com/streampipe/streampipe/internal/testkit/testcerts"
)

// APIKey is the key the front requires: recognisable, so that a test can look for
// it where it must never appear.
const APIKey = "sp-test-api-key-5ecr3t-0f-temporal"

// Front is a running secured front of the local Temporal.
type Front struct {
	// Addr is where it listens, 127.0.0.1:port.
	Addr string
	// CA signed its server certificate and the client certificates it accepts.
	CA *testcerts.CA
	// Client is a client certificate it accepts.
	Client testcerts.Pair
}

// SecureFront starts a front of the local stack's Temporal, stopped when the test
// ends.
func SecureFront(t testing.TB) *Front {
	t.Helper()
	upstream := stacktest.TemporalAddress(t)
	ca := testcerts.NewCA(t, "temporal-test")
	server := ca.Server("temporal-front")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p, err := grpcproxy.Serve(ln, grpcproxy.Config{
		TLS:      grpcproxy.MutualTLS(server.TLS, ca.Pool()),
		APIKey:   APIKey,
		Upstream: upstream,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Stop)
	return &Front{Addr: ln.Addr().String(), CA: ca, Client: ca.Client("streampipe-test")}
}

// Env are the TEMPORAL_* settings of a client of the front, as NAME=value, with
// the right key, CA and client certificate.
func (f *Front) Env() map[string]string {
	return map[string]string{
		"TEMPORAL_ADDRESS":                 f.Addr,
		"TEMPORAL_NAMESPACE":               stacktest.TemporalNamespace(),
		"TEMPORAL_API_KEY":                 APIKey,
		"TEMPORAL_TLS_CLIENT_CERT_PATH":    f.Client.CertFile,
		"TEMPORAL_TLS_CLIENT_KEY_PATH":     f.Client.KeyFile,
		"TEMPORAL_TLS_SERVER_CA_CERT_PATH": f.CA.CertFile,
	}
}
