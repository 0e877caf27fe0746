package envvar_test

import (
	"crypto/tls"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/streampipe/streampipe/internal/envvar"
	"github.com/streampipe/streampipe/internal/testkit/testcerts"
)

// TLS settings are checked, files read, before anything connects: each bad one is
// named by its variable, and a key's content never shows.
func TestTLS(t *testing.T) {
	cert, key := testcerts.SelfSignedCA(t, "client")
	_, otherKey := testcerts.SelfSignedCA(t, "other")
	missing := filepath.Join(t.TempDir(), "none.pem")
	notPEM := filepath.Join(t.TempDir(), "not.pem")
	require.NoError(t, os.WriteFile(notPEM, []byte("PRIVATE-ish not a certificate\n"), 0o600))
	keyPEM, err := os.ReadFile(otherKey)
	require.NoError(t, err)

	tests := []struct {
		name    string
		env     map[string]string
		check   func(*testing.T, *tls.Config)
		wantErr []string
	}{
		{"off", nil, func(t *testing.T, c *tls.Config) { assert.Nil(t, c) }, nil},
		{"on, the system's CAs", map[string]string{"X_TLS": "1"}, func(t *testing.T, c *tls.Config) {
			require.NotNil(t, c)
			assert.Nil(t, c.RootCAs)
			assert.False(t, c.InsecureSkipVerify)
			assert.Equal(t, uint16(tls.VersionTLS12), c.MinVersion)
		}, nil},
		{"mutual", map[string]string{"X_TLS": "true", "X_TLS_CA_FILE": cert, "X_TLS_CERT_FILE": cert, "X_TLS_KEY_FILE": key, "X_TLS_SERVER_NAME": "db.example.com"},
			func(t *testing.T, c *tls.Config) {
				require.NotNil(t, c)
				assert.NotNil(t, c.RootCAs)
				assert.Len(t, c.Certificates, 1)
				assert.Equal(t, "db.example.com", c.ServerName)
			}, nil},
		{"not a switch", map[string]string{"X_TLS": "on"}, nil, []string{`X_TLS="on": want 1 or 0 (true or false)`}},
		{"a file without TLS", map[string]string{"X_TLS_CA_FILE": cert}, nil,
			[]string{"X_TLS_CA_FILE is set but X_TLS is not 1: set X_TLS=1 to speak TLS, or unset X_TLS_CA_FILE"}},
		{"unreadable CA", map[string]string{"X_TLS": "1", "X_TLS_CA_FILE": missing}, nil,
			[]string{`X_TLS_CA_FILE="` + missing + `": cannot read the file: no such file or directory`}},
		{"no certificate in the CA file", map[string]string{"X_TLS": "1", "X_TLS_CA_FILE": notPEM}, nil,
			[]string{`X_TLS_CA_FILE="` + notPEM + `": the file holds no PEM certificate`}},
		{"certificate without key", map[string]string{"X_TLS": "1", "X_TLS_CERT_FILE": cert}, nil,
			[]string{"X_TLS_CERT_FILE is set but X_TLS_KEY_FILE is not"}},
		{"key without certificate", map[string]string{"X_TLS": "1", "X_TLS_KEY_FILE": key}, nil,
			[]string{"X_TLS_KEY_FILE is set but X_TLS_CERT_FILE is not"}},
		{"unreadable key", map[string]string{"X_TLS": "1", "X_TLS_CERT_FILE": cert, "X_TLS_KEY_FILE": missing}, nil,
			[]string{`X_TLS_KEY_FILE="` + missing + `": cannot read the file`}},
		{"another's key", map[string]string{"X_TLS": "1", "X_TLS_CERT_FILE": cert, "X_TLS_KEY_FILE": otherKey}, nil,
			[]string{`X_TLS_CERT_FILE="` + cert + `" and X_TLS_KEY_FILE="` + otherKey + `": not a PEM certificate and its private key: tls: private key does not match public key`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := envvar.NewReader(func(k string) (string, bool) { v, ok := tt.env[k]; return v, ok })
			c := e.TLS("X", "X")
			if tt.wantErr == nil {
				require.NoError(t, e.Err())
				tt.check(t, c)
				return
			}
			require.Error(t, e.Err())
			for _, want := range tt.wantErr {
				assert.Contains(t, e.Err().Error(), want)
			}
			assert.NotContains(t, e.Err().Error(), string(keyPEM[30:60]), "no key material in the error")
		})
	}
}
