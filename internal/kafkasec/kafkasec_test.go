package kafkasec

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"maps"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/streampipe/streampipe/internal/envvar"
	"github.com/streampipe/streampipe/internal/misconfig"
	"github.com/streampipe/streampipe/internal/testkit/testcerts"
)

const secret = "s3cret-Pa55word-of-the-test"

// read reads vars as a program's environment.
func read(vars map[string]string) (*Security, error) {
	e := envvar.NewReader(func(name string) (string, bool) { v, ok := vars[name]; return v, ok })
	s := Read(e)
	return s, e.Err()
}

func TestReadNothingIsPlaintext(t *testing.T) {
	s, err := read(nil)
	require.NoError(t, err)
	assert.Nil(t, s.TLS())
	assert.Nil(t, s.SASL())
	assert.Equal(t, "plaintext", s.String())
	var none *Security
	assert.Equal(t, "plaintext", none.String())
	assert.Nil(t, none.Dialer().TLS)
}

func TestReadSASLSSL(t *testing.T) {
	cert, key := testcerts.SelfSignedCA(t, "test")
	pwFile := filepath.Join(t.TempDir(), "pw")
	require.NoError(t, os.WriteFile(pwFile, []byte(secret+"\n"), 0o600))
	for _, m := range []string{"scram-sha-512", ScramSHA256, Plain} {
		s, err := read(map[string]string{"KAFKA_TLS": "true", "KAFKA_TLS_CA_FILE": cert, "KAFKA_TLS_CERT_FILE": cert,
			"KAFKA_TLS_KEY_FILE": key, "KAFKA_TLS_SERVER_NAME": "kafka.example", "KAFKA_SASL_MECHANISM": m,
			"KAFKA_SASL_USERNAME": "streampipe", "KAFKA_SASL_PASSWORD_FILE": pwFile})
		require.NoError(t, err, m)
		require.NotNil(t, s.TLS())
		assert.Equal(t, "kafka.example", s.TLS().ServerName)
		assert.Len(t, s.TLS().Certificates, 1)
		assert.NotNil(t, s.TLS().RootCAs)
		assert.Equal(t, "SASL_SSL ("+strings.ToUpper(m)+" as streampipe)", s.String())
		assert.Same(t, s.TLS(), s.Transport().TLS)
		assert.Equal(t, s.SASL(), s.Dialer().SASLMechanism)
		assert.NotContains(t, s.String(), secret)
	}
}

// Every setting that cannot work is refused before anything connects, named with
// its variable; the password is never in the message.
func TestReadRefusesWhatCannotWork(t *testing.T) {
	cert, _ := testcerts.SelfSignedCA(t, "test")
	notPEM := filepath.Join(t.TempDir(), "not.pem")
	require.NoError(t, os.WriteFile(notPEM, []byte("hello"), 0o600))
	for _, c := range []struct {
		name string
		vars map[string]string
		want []string
	}{
		// The KAFKA_TLS* variables are envvar.Reader.TLS's, tested there: two show they are read.
		{"a CA without TLS", map[string]string{"KAFKA_TLS_CA_FILE": cert},
			[]string{"KAFKA_TLS_CA_FILE is set but KAFKA_TLS is not 1"}},
		{"a certificate without its key", map[string]string{"KAFKA_TLS": "1", "KAFKA_TLS_CERT_FILE": cert},
			[]string{"KAFKA_TLS_CERT_FILE is set but KAFKA_TLS_KEY_FILE is not"}},
		{"an unknown mechanism", map[string]string{"KAFKA_SASL_MECHANISM": "GSSAPI", "KAFKA_SASL_USERNAME": "u", "KAFKA_SASL_PASSWORD": secret},
			[]string{`KAFKA_SASL_MECHANISM="GSSAPI": want PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512`}},
		{"a mechanism without a user or password", map[string]string{"KAFKA_SASL_MECHANISM": "SCRAM-SHA-512"},
			[]string{"KAFKA_SASL_USERNAME=\"\": want the user to log in as with SCRAM-SHA-512", "KAFKA_SASL_PASSWORD=\"\": want the password"}},
		{"a password without a mechanism", map[string]string{"KAFKA_SASL_USERNAME": "u", "KAFKA_SASL_PASSWORD": secret},
			[]string{`KAFKA_SASL_MECHANISM="": want PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512: KAFKA_SASL_USERNAME or KAFKA_SASL_PASSWORD is set`}},
		{"a password set twice", map[string]string{"KAFKA_SASL_MECHANISM": "PLAIN", "KAFKA_SASL_USERNAME": "u",
			"KAFKA_SASL_PASSWORD": secret, "KAFKA_SASL_PASSWORD_FILE": notPEM},
			[]string{"KAFKA_SASL_PASSWORD and KAFKA_SASL_PASSWORD_FILE are both set"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := read(c.vars)
			require.Error(t, err)
			for _, w := range c.want {
				assert.Contains(t, err.Error(), w)
			}
			assert.NotContains(t, err.Error(), secret)
		})
	}
}

// Explain says what a failure of TLS or SASL means in the variables' terms, a
// misconfiguration whose public words name no user; other errors pass unchanged.
func TestExplainWithoutABroker(t *testing.T) {
	s, err := read(map[string]string{"KAFKA_TLS": "true", "KAFKA_SASL_MECHANISM": "SCRAM-SHA-256",
		"KAFKA_SASL_USERNAME": "streampipe", "KAFKA_SASL_PASSWORD": secret})
	require.NoError(t, err)
	for _, c := range []struct {
		err  error
		want string
	}{
		{fmt.Errorf("dial: %w", kafka.SASLAuthenticationFailed),
			`kafka refused the credentials of user "streampipe" for SASL SCRAM-SHA-256: check KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD`},
		{kafka.UnsupportedSASLMechanism, `kafka does not accept SASL SCRAM-SHA-256 for user "streampipe"`},
		{kafka.IllegalSASLState, "the broker does not speak SASL at this address: unset KAFKA_SASL_MECHANISM"},
		{&tls.CertificateVerificationError{Err: x509.UnknownAuthorityError{}}, "the broker's certificate is not trusted"},
		{x509.HostnameError{Host: "kafka.example", Certificate: &x509.Certificate{}}, `the broker's certificate is not for "kafka.example"`},
		{x509.CertificateInvalidError{Reason: x509.Expired, Cert: &x509.Certificate{}}, "the broker's certificate is not valid (expired"},
		{tls.RecordHeaderError{Msg: "first record does not look like a TLS handshake"}, "the broker does not speak TLS at this address"},
		{&net.OpError{Op: "remote error", Err: errors.New("tls: certificate required")}, "the broker refused the TLS handshake"},
	} {
		got := s.Explain(t.Context(), nil, c.err)
		assert.ErrorContains(t, got, c.want)
		assert.ErrorIs(t, got, c.err)
		m, ok := misconfig.As(got)
		if assert.True(t, ok, "%v", got) {
			assert.NotContains(t, m.Public(), "streampipe", "/healthz names no user")
		}
		assert.NotContains(t, got.Error(), secret)
	}
	plain := errors.New("some other failure")
	assert.Same(t, plain, s.Explain(t.Context(), nil, plain))
	assert.False(t, misconfig.Is(plain))
	assert.NoError(t, s.Explain(t.Context(), nil, nil))
}

// A password SCRAM's SASLprep refuses is named by its variable, and the library's
// message, which quotes the password, is not shown; a blank line at the end of the
// password's file (a templated secret) is refused before SCRAM sees it.
func TestSCRAMRefusalNeverShowsThePassword(t *testing.T) {
	pwFile := filepath.Join(t.TempDir(), "pw")
	require.NoError(t, os.WriteFile(pwFile, []byte(secret+"\n\n"), 0o600))
	for _, tt := range []struct {
		vars map[string]string
		want string
	}{
		{map[string]string{"KAFKA_SASL_PASSWORD_FILE": pwFile},
			"KAFKA_SASL_PASSWORD_FILE: the password has a control character (a line break: a blank line at the end?)"},
		{map[string]string{"KAFKA_SASL_PASSWORD": secret + "\uE000"},
			"KAFKA_SASL_PASSWORD: the password has a character SCRAM does not take (SASLprep prohibits it)"},
		{map[string]string{"KAFKA_SASL_PASSWORD": secret, "KAFKA_SASL_USERNAME": "app\uE000"},
			"KAFKA_SASL_USERNAME: the user name has a character SCRAM does not take (SASLprep prohibits it)"},
	} {
		vars := map[string]string{"KAFKA_TLS": "1", "KAFKA_SASL_MECHANISM": ScramSHA256, "KAFKA_SASL_USERNAME": "app"}
		maps.Copy(vars, tt.vars)
		_, err := read(vars)
		require.Error(t, err)
		assert.Equal(t, tt.want, err.Error())
		assert.NotContains(t, err.Error(), secret[:4])
	}
}

// PLAIN sends the password as it is: without TLS that is warned about; SCRAM, or
// PLAIN over TLS, is not.
func TestPlainWithoutTLSIsWarned(t *testing.T) {
	warnings := func(vars map[string]string) []string {
		e := envvar.NewReader(func(name string) (string, bool) { v, ok := vars[name]; return v, ok })
		Read(e)
		require.NoError(t, e.Err())
		return e.Warnings()
	}
	vars := map[string]string{"KAFKA_SASL_MECHANISM": Plain, "KAFKA_SASL_USERNAME": "app", "KAFKA_SASL_PASSWORD": secret}
	assert.Equal(t, []string{"KAFKA_SASL_PASSWORD (KAFKA_SASL_MECHANISM=PLAIN) is sent to the server in plaintext (KAFKA_TLS is not 1): " +
		"anyone on the network path can read it; set KAFKA_TLS=1"}, warnings(vars))
	vars["KAFKA_SASL_MECHANISM"] = ScramSHA512
	assert.Empty(t, warnings(vars))
	vars["KAFKA_SASL_MECHANISM"], vars["KAFKA_TLS"] = Plain, "1"
	assert.Empty(t, warnings(vars))
}

func TestSettling(t *testing.T) {
	for _, tt := range []struct {
		err  error
		want bool
	}{
		{kafka.GroupLoadInProgress, true},
		{kafka.GroupCoordinatorNotAvailable, true},
		{kafka.NotCoordinatorForGroup, true},
		{kafka.RebalanceInProgress, true},
		{fmt.Errorf("reading the offsets of group g: %w", kafka.GroupLoadInProgress), true},
		{kafka.LeaderNotAvailable, true},
		{kafka.UnknownTopicOrPartition, false}, // the caller's to wait for
		{kafka.GroupAuthorizationFailed, false},
		{errors.New("dial tcp 127.0.0.1:1: connection refused"), false},
		{nil, false},
	} {
		assert.Equal(t, tt.want, Settling(tt.err), "%v", tt.err)
	}
}

func TestSettled(t *testing.T) {
	calls := 0
	waited, err := Settle(context.Background(), func() error {
		calls++
		switch calls {
		case 1:
			return kafka.GroupCoordinatorNotAvailable
		case 2:
			return fmt.Errorf("reading: %w", kafka.GroupLoadInProgress)
		}
		return nil
	})
	require.NoError(t, err)
	assert.Len(t, waited, 2)
	assert.Equal(t, 3, calls)

	calls = 0
	_, err = Settle(context.Background(), func() error { calls++; return kafka.UnknownTopicOrPartition })
	assert.ErrorIs(t, err, kafka.UnknownTopicOrPartition)
	assert.Equal(t, 1, calls, "an error that is not settling is returned at once")

	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	_, err = Settle(ctx, func() error { return kafka.NotCoordinatorForGroup })
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	assert.ErrorIs(t, err, kafka.NotCoordinatorForGroup, "the last answer is said")
}
