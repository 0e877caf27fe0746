package kafkasec

import (
	"cmp"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"syscall"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/streampipe/streampipe/internal/misconfig"
)

// Explain returns err as a *misconfig.Error saying what it means for the security settings
// when it is a failure of TLS or SASL, else err itself. kafka-go's transport reports
// every failed connection as "[8] Broker Not Available": Explain then connects to
// brokers afresh to learn why. A connection the broker closes at once, from a
// client without TLS, is checked with a TLS handshake of its own: a broker that
// answers one expects TLS. The message names the user and the mechanism, never the
// password.
func (s *Security) Explain(ctx context.Context, brokers []string, err error) error {
	if err == nil || misconfig.Is(err) {
		return err
	}
	cause := err
	if errors.Is(err, kafka.BrokerNotAvailable) {
		if cause = s.connect(ctx, brokers); cause == nil {
			return err
		}
	}
	if e := s.explain(ctx, brokers, cause); e != nil {
		return e
	}
	return s.hint(err)
}

// Check connects to brokers as the programs' clients do (TLS handshake, SASL login)
// and returns the misconfiguration it meets, a *misconfig.Error naming the brokers,
// or nil: when a broker answers, and when none does (an outage, which the programs
// wait out or report as such). Every program checks so at start, to say the same
// thing of the same mistake before it does anything else.
func (s *Security) Check(ctx context.Context, brokers []string) error {
	err := s.connect(ctx, brokers)
	if err == nil {
		return nil
	}
	if e := s.explain(ctx, brokers, err); e != nil {
		return fmt.Errorf("kafka at %s (KAFKA_BROKERS): %w", strings.Join(brokers, ","), e)
	}
	return nil
}

// connect returns nil once one of brokers answers a request on a connection of its
// own, made as the clients make theirs (TLS handshake, SASL login), else the first
// broker's error.
func (s *Security) connect(ctx context.Context, brokers []string) error {
	d := s.Dialer()
	d.Timeout = 5 * time.Second
	var first error
	for _, b := range brokers {
		conn, err := d.DialContext(ctx, "tcp", b)
		if err == nil {
			_, err = conn.ApiVersions()
			_ = conn.Close()
		}
		if err == nil {
			return nil
		}
		first = cmp.Or(first, err)
	}
	return first
}

// speaksNoTLS is said of a TLS client at a plaintext listener, however it shows.
const speaksNoTLS = "the broker does not speak TLS at this address: unset KAFKA_TLS, or point KAFKA_BROKERS at its TLS listener"

// explain is err's diagnosis, or nil when the settings do not explain it.
func (s *Security) explain(ctx context.Context, brokers []string, err error) *misconfig.Error {
	var (
		unknownCA  x509.UnknownAuthorityError
		hostname   x509.HostnameError
		invalid    x509.CertificateInvalidError
		notTLS     tls.RecordHeaderError
		verifyFail *tls.CertificateVerificationError
	)
	switch {
	case errors.Is(err, kafka.SASLAuthenticationFailed):
		return misconfig.WithPublic(
			fmt.Sprintf("kafka refused the credentials of user %q for SASL %s: check KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD",
				s.user, s.mechanismName()),
			fmt.Sprintf("kafka refused the credentials for SASL %s: check KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD",
				s.mechanismName()), err)
	case errors.Is(err, kafka.UnsupportedSASLMechanism):
		return misconfig.WithPublic(
			fmt.Sprintf("kafka does not accept SASL %s for user %q: set KAFKA_SASL_MECHANISM to one the broker enables",
				s.mechanismName(), s.user),
			fmt.Sprintf("kafka does not accept SASL %s: set KAFKA_SASL_MECHANISM to one the broker enables", s.mechanismName()), err)
	case errors.Is(err, kafka.IllegalSASLState): // a SASL handshake at a listener without SASL
		return misconfig.New("the broker does not speak SASL at this address: unset KAFKA_SASL_MECHANISM, "+
			"or point KAFKA_BROKERS at its SASL listener", err)
	case errors.As(err, &unknownCA):
		return misconfig.New("the broker's certificate is not trusted: it is signed by a CA the client does not know; "+
			"set KAFKA_TLS_CA_FILE to the CA that signs the brokers' certificates", err)
	case errors.As(err, &hostname):
		return misconfig.New(fmt.Sprintf("the broker's certificate is not for %q: set KAFKA_TLS_SERVER_NAME to a name it carries, "+
			"or connect by such a name", hostname.Host), err)
	case errors.As(err, &invalid):
		return misconfig.New("the broker's certificate is not valid (expired, not yet valid or not for a server)", err)
	case errors.As(err, &verifyFail):
		return misconfig.New("the broker's certificate could not be verified", err)
	case errors.As(err, &notTLS):
		return misconfig.New(speaksNoTLS, err)
	case tlsAlert(err):
		return misconfig.New("the broker refused the TLS handshake: if it requires client certificates, set KAFKA_TLS_CERT_FILE "+
			"and KAFKA_TLS_KEY_FILE to one its CA signed", err)
	case !closed(err):
		return nil
	}
	switch speaks, known := answersTLS(ctx, brokers); {
	case !known:
		return nil // the broker is gone: an outage, which ends
	case speaks && s.TLS() == nil:
		return misconfig.New("the broker expects TLS: set KAFKA_TLS=1 (and KAFKA_TLS_CA_FILE to the CA of its certificate)", err)
	case !speaks && s.TLS() != nil:
		return misconfig.New(speaksNoTLS, err)
	}
	return nil
}

// hint is what a connection closed after a good TLS handshake may mean, when no
// SASL is configured: not an *Error, as a broker that restarts closes connections too.
func (s *Security) hint(err error) error {
	if s.TLS() != nil && s.SASL() == nil && closed(err) {
		return fmt.Errorf("the broker closed the connection; if it requires SASL, set KAFKA_SASL_MECHANISM, "+
			"KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD: %w", err)
	}
	return err
}

func (s *Security) mechanismName() string {
	if s.SASL() == nil {
		return "(none)"
	}
	return s.mechanism.Name()
}

// closed reports whether err says the peer closed the connection: what a client
// meets when it speaks plaintext to a TLS listener, or skips SASL on a SASL one.
func closed(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}

// tlsAlert reports whether err is a TLS alert from the peer, "remote error: tls: …":
// crypto/tls reports it as a *net.OpError of Op "remote error".
func tlsAlert(err error) bool {
	op, ok := errors.AsType[*net.OpError](err)
	return ok && op.Op == "remote error"
}

// answersTLS asks brokers which protocol they speak with a TLS handshake of its
// own: speaks when one completes it or answers with a TLS alert (a broker that
// requires a client certificate), not when one accepts the connection and then
// closes it or answers something else; known is false when none accepts a
// connection. The certificate is not checked and no data is sent.
func answersTLS(ctx context.Context, brokers []string) (speaks, known bool) {
	for _, b := range brokers {
		raw, err := (&net.Dialer{Timeout: 3 * time.Second}).DialContext(ctx, "tcp", b)
		if err != nil {
			continue
		}
		conn := tls.Client(raw, &tls.Config{InsecureSkipVerify: true}) //nolint:gosec // only the protocol is asked
		_ = conn.SetDeadline(time.Now().Add(3 * time.Second))
		err = conn.HandshakeContext(ctx)
		_ = conn.Close()
		if err == nil || tlsAlert(err) {
			return true, true
		}
		if ne, ok := errors.AsType[net.Error](err); !ok || !ne.Timeout() {
			known = true
		}
	}
	return false, known
}
