// Package kafkasec is how every Kafka client of the project speaks TLS and SASL: it
// reads the KAFKA_TLS* and KAFKA_SASL_* variables into a *tls.Config and a
// sasl.Mechanism, hands out the kafka-go transports and dialers built with them, and
// says what a failed handshake or login means in the variables' terms.
package kafkasec

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/sasl"
	"github.com/segmentio/kafka-go/sasl/plain"
	"github.com/segmentio/kafka-go/sasl/scram"

	"github.com/streampipe/streampipe/internal/envvar"
)

// The SASL mechanisms KAFKA_SASL_MECHANISM takes.
const (
	Plain       = "PLAIN"
	ScramSHA256 = "SCRAM-SHA-256"
	ScramSHA512 = "SCRAM-SHA-512"
)

// Kafka is how a program reaches Kafka, read the one way by every program that does
// (ReadKafka).
type Kafka struct {
	Brokers  []string  // KAFKA_BROKERS (BrokersVar), default localhost:9092
	Security *Security // KAFKA_TLS*, KAFKA_SASL_* (Read); nil: plaintext
}

// BrokersVar is the variable of the brokers, for messages that name it.
const BrokersVar = "KAFKA_BROKERS"

// ReadKafka reads the brokers and the security settings (Read) through e.
func ReadKafka(e *envvar.Reader) Kafka {
	defer e.Group("Kafka")()
	return Kafka{
		Brokers:  e.Addrs(BrokersVar, "localhost:9092", true, "Kafka bootstrap brokers, a comma list of host:port"),
		Security: Read(e),
	}
}

// Security is how a program's Kafka clients connect. The nil *Security is
// plaintext without authentication, as is the zero value.
type Security struct {
	tls       *tls.Config
	mechanism sasl.Mechanism
	user      string
}

// Read reads the KAFKA_TLS* variables (envvar.Reader.TLS) and the KAFKA_SASL_* ones
// through e and checks them (files readable, a key with a certificate, a user and a
// password with a mechanism), recording every problem in e under the variable's
// name. It returns
// nil, plaintext, when they ask for neither TLS nor SASL.
func Read(e *envvar.Reader) *Security {
	s := &Security{tls: e.TLS("KAFKA", "the brokers")}
	mechanism := strings.ToUpper(e.Checked("KAFKA_SASL_MECHANISM", "", checkMechanism,
		"`SCRAM-SHA-512`, `SCRAM-SHA-256` or `PLAIN` (see [Kafka security](#kafka-security)); unset: no SASL"))
	s.user = e.Secret("KAFKA_SASL_USERNAME", "the SASL user")
	password := e.Secret("KAFKA_SASL_PASSWORD", "the SASL user's password (never logged)")
	s.mechanism = saslMechanism(e, mechanism, s.user, password)
	if mechanism == Plain {
		e.PlaintextPassword(password, e.SecretFrom("KAFKA_SASL_PASSWORD")+" (KAFKA_SASL_MECHANISM=PLAIN)", s.tls != nil, "KAFKA_TLS")
	}
	if s.tls == nil && s.mechanism == nil {
		return nil // plaintext
	}
	return s
}

func checkMechanism(s string) error {
	switch strings.ToUpper(s) {
	case "", Plain, ScramSHA256, ScramSHA512:
		return nil
	}
	return fmt.Errorf("want %s, %s or %s", Plain, ScramSHA256, ScramSHA512)
}

// saslMechanism is the mechanism named, for user and password, nil when none is
// named; what is missing is recorded in e.
func saslMechanism(e *envvar.Reader, mechanism, user, password string) sasl.Mechanism {
	if mechanism == "" {
		if user != "" || password != "" || e.Refused("KAFKA_SASL_USERNAME") || e.Refused("KAFKA_SASL_PASSWORD") {
			e.Fail("KAFKA_SASL_MECHANISM", "", fmt.Sprintf("%s, %s or %s: KAFKA_SASL_USERNAME or KAFKA_SASL_PASSWORD is set",
				Plain, ScramSHA256, ScramSHA512))
		}
		return nil
	}
	if user == "" && !e.Refused("KAFKA_SASL_USERNAME") {
		e.Fail("KAFKA_SASL_USERNAME", "", "the user to log in as with "+mechanism)
	}
	if password == "" && !e.Refused("KAFKA_SASL_PASSWORD") {
		e.Fail("KAFKA_SASL_PASSWORD", "", "the password of the user (or KAFKA_SASL_PASSWORD_FILE)")
	}
	if user == "" || password == "" {
		return nil
	}
	switch mechanism {
	case Plain:
		return plain.Mechanism{Username: user, Password: password}
	case ScramSHA256, ScramSHA512:
		algo := scram.SHA512
		if mechanism == ScramSHA256 {
			algo = scram.SHA256
		}
		// SASLprep's error quotes what it refuses: the user and the password are
		// tried one at a time, to name the variable without the value.
		if _, err := scram.Mechanism(algo, user, "password"); err != nil {
			e.Add(fmt.Errorf("%s: the user name has a character SCRAM does not take (SASLprep prohibits it)", e.SecretFrom("KAFKA_SASL_USERNAME")))
			return nil
		}
		if _, err := scram.Mechanism(algo, "user", password); err != nil {
			e.Add(fmt.Errorf("%s: the password has a character SCRAM does not take (SASLprep prohibits it)", e.SecretFrom("KAFKA_SASL_PASSWORD")))
			return nil
		}
		m, _ := scram.Mechanism(algo, user, password) // each was taken alone
		return m
	}
	return nil // checkMechanism recorded it
}

// String says how the clients connect, for logs: "plaintext", "TLS", "SASL_SSL
// (SCRAM-SHA-512 as streampipe)". It never holds a secret.
func (s *Security) String() string {
	protocol := "plaintext"
	switch {
	case s.TLS() != nil && s.SASL() != nil:
		protocol = "SASL_SSL"
	case s.TLS() != nil:
		protocol = "TLS"
	case s.SASL() != nil:
		protocol = "SASL_PLAINTEXT"
	}
	if s.SASL() != nil {
		protocol += fmt.Sprintf(" (%s as %s)", s.mechanism.Name(), s.user)
	}
	return protocol
}

// TLS is the TLS configuration of the connections; nil: plaintext.
func (s *Security) TLS() *tls.Config {
	if s == nil {
		return nil
	}
	return s.tls
}

// SASL is the mechanism the connections log in with; nil: none.
func (s *Security) SASL() sasl.Mechanism {
	if s == nil {
		return nil
	}
	return s.mechanism
}

// Transport returns a new transport, for kafka.Client and kafka.Writer, that
// connects with s.
func (s *Security) Transport() *kafka.Transport {
	return &kafka.Transport{TLS: s.TLS(), SASL: s.SASL()}
}

// Dialer returns a new dialer, for kafka.Reader and kafka.Dial*, that connects with
// s; its other settings are kafka-go's default dialer's.
func (s *Security) Dialer() *kafka.Dialer {
	return &kafka.Dialer{Timeout: 10 * time.Second, DualStack: true, TLS: s.TLS(), SASLMechanism: s.SASL()}
}

// DialFunc returns a kafka.Dialer's DialFunc that connects as s says up to Kafka's
// protocol: TCP with d, then the TLS handshake when s speaks TLS (verifying the
// broker's certificate for KAFKA_TLS_SERVER_NAME, else its host). It is for a
// dialer that wraps the connection to read Kafka's frames, which kafka-go's own TLS
// would hide beneath it: give that dialer no TLS of its own. SASL stays the dialer's.
func (s *Security) DialFunc(d *net.Dialer) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		conn, err := d.DialContext(ctx, network, addr)
		if err != nil || s.TLS() == nil {
			return conn, err
		}
		cfg := s.tls
		if cfg.ServerName == "" {
			host, _, _ := net.SplitHostPort(addr)
			cfg = cfg.Clone()
			cfg.ServerName = host
		}
		tlsConn := tls.Client(conn, cfg)
		if err := tlsConn.HandshakeContext(ctx); err != nil {
			_ = conn.Close()
			return nil, err
		}
		return tlsConn, nil
	}
}
