package config

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/streampipe/streampipe/internal/testkit/testcerts"
)

// TestMain keeps the `temporal` CLI's default profiles file of whoever runs the
// tests out of them: the default path is under an empty folder.
func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "config-test")
	if err != nil {
		panic(err)
	}
	os.Setenv("XDG_CONFIG_HOME", dir)
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// apiKey is recognisable, to check that no error shows it.
const apiKey = "sp-unit-api-key-never-shown"

// profiles writes a TOML profiles file, as the `temporal` CLI reads it.
func profiles(t *testing.T, toml string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "temporal.toml")
	require.NoError(t, os.WriteFile(path, []byte(toml), 0o600))
	return path
}

func TestTemporalDefaultsArePlaintextLocal(t *testing.T) {
	c, err := LoadStarter(lookup(nil))
	require.NoError(t, err)
	assert.Equal(t, "localhost:7233", c.TemporalAddress)
	assert.Equal(t, "default", c.TemporalNamespace)
	assert.Nil(t, c.TemporalOptions.ConnectionOptions.TLS)
	assert.Nil(t, c.TemporalOptions.Credentials)
}

// A profile of the CLI's TOML file chooses the address, namespace, TLS and API key;
// the variables override it.
func TestTemporalProfileAndVariablesOverIt(t *testing.T) {
	ca := testcerts.NewCA(t, "unit")
	client := ca.Client("worker")
	file := profiles(t, `
[profile.default]
address = "localhost:7233"

[profile.prod]
address = "prod.tmprl.example:7233"
namespace = "prod-ns"
api_key = "`+apiKey+`"
[profile.prod.tls]
client_cert_path = "`+client.CertFile+`"
client_key_path = "`+client.KeyFile+`"
server_ca_cert_path = "`+ca.CertFile+`"
server_name = "front.example"
`)
	c, err := LoadStarter(lookup(map[string]string{"TEMPORAL_CONFIG_FILE": file, "TEMPORAL_PROFILE": "prod"}))
	require.NoError(t, err)
	assert.Equal(t, "prod.tmprl.example:7233", c.TemporalAddress)
	assert.Equal(t, "prod-ns", c.TemporalNamespace)
	require.NotNil(t, c.TemporalOptions.ConnectionOptions.TLS)
	assert.Len(t, c.TemporalOptions.ConnectionOptions.TLS.Certificates, 1)
	assert.NotNil(t, c.TemporalOptions.ConnectionOptions.TLS.RootCAs)
	assert.Equal(t, "front.example", c.TemporalOptions.ConnectionOptions.TLS.ServerName)
	assert.NotNil(t, c.TemporalOptions.Credentials)

	c, err = LoadStarter(lookup(map[string]string{"TEMPORAL_CONFIG_FILE": file, "TEMPORAL_PROFILE": "prod",
		"TEMPORAL_ADDRESS": "other:7233", "TEMPORAL_NAMESPACE": "other-ns", "TEMPORAL_TLS_SERVER_NAME": "other.example"}))
	require.NoError(t, err)
	assert.Equal(t, "other:7233", c.TemporalAddress)
	assert.Equal(t, "other-ns", c.TemporalNamespace)
	assert.Equal(t, "other.example", c.TemporalOptions.ConnectionOptions.TLS.ServerName)

	c, err = LoadStarter(lookup(map[string]string{"TEMPORAL_CONFIG_FILE": file}))
	require.NoError(t, err)
	assert.Nil(t, c.TemporalOptions.ConnectionOptions.TLS, "the default profile is plaintext")
}

// An API key turns TLS on (with the system's CAs), as for Temporal Cloud; it may
// come from a file.
func TestTemporalAPIKey(t *testing.T) {
	keyFile := filepath.Join(t.TempDir(), "api-key")
	require.NoError(t, os.WriteFile(keyFile, []byte(apiKey+"\n"), 0o600))
	c, err := LoadStarter(lookup(map[string]string{"TEMPORAL_API_KEY_FILE": keyFile}))
	require.NoError(t, err)
	assert.NotNil(t, c.TemporalOptions.Credentials)
	assert.NotNil(t, c.TemporalOptions.ConnectionOptions.TLS)
	assert.Empty(t, c.Warnings)

	_, err = LoadStarter(lookup(map[string]string{"TEMPORAL_API_KEY": apiKey, "TEMPORAL_API_KEY_FILE": keyFile}))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "TEMPORAL_API_KEY and TEMPORAL_API_KEY_FILE are both set")
	assert.NotContains(t, err.Error(), apiKey)
}

// Temporal is held to Kafka's and Cassandra's rules: credentials (an API key, a
// client certificate) never go without TLS, and the server's certificate is
// checked unless TEMPORAL_TLS_INSECURE_SKIP_VERIFY=1 asks otherwise, which is then
// warned about. Each refusal names where the setting came from and never shows
// the key.
func TestTemporalTransportRules(t *testing.T) {
	ca := testcerts.NewCA(t, "unit")
	client := ca.Client("worker")
	keyFile := filepath.Join(t.TempDir(), "api-key")
	require.NoError(t, os.WriteFile(keyFile, []byte(apiKey+"\n"), 0o600))
	plainProfile := profiles(t, "[profile.p]\naddress = \"tmprl.example:7233\"\napi_key = \""+apiKey+"\"\n[profile.p.tls]\ndisabled = true\n")
	skipProfile := profiles(t, "[profile.p]\naddress = \"tmprl.example:7233\"\n[profile.p.tls]\ndisable_host_verification = true\n")
	refused := []struct {
		name string
		env  map[string]string
		want string
	}{
		{"API key, TLS off", map[string]string{"TEMPORAL_API_KEY": apiKey, "TEMPORAL_TLS": "false"},
			`TEMPORAL_TLS="false" turns TLS off, yet TEMPORAL_API_KEY is set: credentials are for TLS only (an API key would go to the server in plaintext, a client certificate would be ignored); turn TLS on (TEMPORAL_TLS=true), or remove them`},
		{"API key file, TLS off", map[string]string{"TEMPORAL_API_KEY_FILE": keyFile, "TEMPORAL_TLS": "0"},
			`TEMPORAL_TLS="0" turns TLS off, yet TEMPORAL_API_KEY_FILE is set: credentials are for TLS only`},
		{"client certificate, TLS off", map[string]string{"TEMPORAL_TLS": "false",
			"TEMPORAL_TLS_CLIENT_CERT_PATH": client.CertFile, "TEMPORAL_TLS_CLIENT_KEY_PATH": client.KeyFile},
			`TEMPORAL_TLS="false" turns TLS off, yet a client certificate (TEMPORAL_TLS_CLIENT_CERT_PATH="` + client.CertFile + `") is set: credentials are for TLS only`},
		{"missing client certificate, TLS off", map[string]string{"TEMPORAL_TLS": "false",
			"TEMPORAL_TLS_CLIENT_CERT_PATH": "/nonexistent/c.pem", "TEMPORAL_TLS_CLIENT_KEY_PATH": "/nonexistent/k.pem"},
			`TEMPORAL_TLS="false" turns TLS off, yet a client certificate (TEMPORAL_TLS_CLIENT_CERT_PATH="/nonexistent/c.pem") is set`},
		{"API key in a profile, TLS off in it", map[string]string{"TEMPORAL_CONFIG_FILE": plainProfile, "TEMPORAL_PROFILE": "p"},
			`tls.disabled = "true" in profile "p" of ` + plainProfile + ` turns TLS off, yet api_key in profile "p" of ` + plainProfile + ` is set: credentials are for TLS only`},
		{"host verification off", map[string]string{"TEMPORAL_TLS": "true", "TEMPORAL_TLS_DISABLE_HOST_VERIFICATION": "true"},
			`TEMPORAL_TLS_DISABLE_HOST_VERIFICATION="true" turns off the check of the server's certificate, so that anyone on the network path can pose as Temporal (and receive the API key): refused unless TEMPORAL_TLS_INSECURE_SKIP_VERIFY=1 asks for it too`},
		{"host verification off in a profile", map[string]string{"TEMPORAL_CONFIG_FILE": skipProfile, "TEMPORAL_PROFILE": "p"},
			`tls.disable_host_verification = "true" in profile "p" of ` + skipProfile + ` turns off the check of the server's certificate`},
		{"skip verification, TLS off", map[string]string{"TEMPORAL_TLS_INSECURE_SKIP_VERIFY": "1"},
			`TEMPORAL_TLS_INSECURE_SKIP_VERIFY=1 is set but TLS is off`},
	}
	for _, tt := range refused {
		t.Run(tt.name, func(t *testing.T) {
			_, err := LoadProducer(lookup(tt.env))
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
			assert.NotContains(t, err.Error(), apiKey)
		})
	}
	for name, env := range map[string]map[string]string{
		"asked for alone":    {"TEMPORAL_API_KEY": apiKey, "TEMPORAL_TLS_INSECURE_SKIP_VERIFY": "1"},
		"with the CLI's":     {"TEMPORAL_TLS": "true", "TEMPORAL_TLS_DISABLE_HOST_VERIFICATION": "true", "TEMPORAL_TLS_INSECURE_SKIP_VERIFY": "true"},
		"with the profile's": {"TEMPORAL_CONFIG_FILE": skipProfile, "TEMPORAL_PROFILE": "p", "TEMPORAL_TLS_INSECURE_SKIP_VERIFY": "1"},
	} {
		t.Run("insecure "+name, func(t *testing.T) {
			c, err := LoadProducer(lookup(env))
			require.NoError(t, err)
			require.NotNil(t, c.TemporalOptions.ConnectionOptions.TLS)
			assert.True(t, c.TemporalOptions.ConnectionOptions.TLS.InsecureSkipVerify)
			assert.Equal(t, []string{"TEMPORAL_TLS_INSECURE_SKIP_VERIFY=1: the Temporal server's certificate is not checked, so that anyone on the network path " +
				"can pose as it (and receive the API key); unset it outside tests"}, c.Warnings)
		})
	}
}

// A profiles file the TOML parser refuses is told by line, without its text: the
// parser's message quotes what it refuses, here part of an api_key. A malformed
// api_key in a profile is refused like one in a variable.
func TestTemporalProfileErrorsNeverShowTheKey(t *testing.T) {
	for name, tt := range map[string]struct{ toml, want string }{
		"unquoted key": {"[profile.p]\naddress = \"a:7233\"\napi_key = " + apiKey + "\n",
			`line 3 (after key profile.p.api_key) is not valid TOML (its text is not shown: it may hold a secret)`},
		"unterminated string": {"[profile.p]\napi_key = \"" + apiKey + "\naddress = \"a:7233\"\n",
			`is not valid TOML (its text is not shown: it may hold a secret)`},
		"line break in the key": {"[profile.p]\napi_key = \"" + apiKey + "\\n\"\n",
			`api_key in profile "p" of `},
		"wrong type": {"[profile.p]\napi_key = [\"" + apiKey + "\"]\n",
			`not a Temporal profiles file of values of the right types`},
	} {
		t.Run(name, func(t *testing.T) {
			file := profiles(t, tt.toml)
			_, err := LoadProducer(lookup(map[string]string{"TEMPORAL_CONFIG_FILE": file, "TEMPORAL_PROFILE": "p"}))
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
			assert.NotContains(t, err.Error(), apiKey[:6])
		})
	}
}

// Every bad Temporal setting is refused before anything connects, naming the
// variable or the profile's key that set it, and never showing the API key or a
// key's content.
func TestBadTemporalSettingsAreNamed(t *testing.T) {
	ca := testcerts.NewCA(t, "unit")
	good := ca.Client("good")
	other := ca.Client("other")
	expired := ca.ExpiredClient("expired")
	notPEM := filepath.Join(t.TempDir(), "not.pem")
	require.NoError(t, os.WriteFile(notPEM, []byte("not a certificate\n"), 0o600))
	badProfile := profiles(t, "[profile.p]\naddress = \"tmprl.example\"\n[profile.p.tls]\nclient_cert_path = \""+good.CertFile+"\"\n")
	tests := []struct {
		name string
		env  map[string]string
		want string
	}{
		{"address", map[string]string{"TEMPORAL_ADDRESS": "localhost"},
			`TEMPORAL_ADDRESS="localhost": want host:port, such as "localhost:7233"; this one is malformed`},
		{"address in a profile", map[string]string{"TEMPORAL_CONFIG_FILE": badProfile, "TEMPORAL_PROFILE": "p"},
			`address = "tmprl.example" in profile "p" of ` + badProfile + `: want host:port`},
		{"certificate without its key, in a profile", map[string]string{"TEMPORAL_CONFIG_FILE": badProfile, "TEMPORAL_PROFILE": "p"},
			`tls.client_cert_path = "` + good.CertFile + `" in profile "p" of ` + badProfile + `: the certificate's key is missing`},
		{"TLS flag", map[string]string{"TEMPORAL_TLS": "yes"}, `TEMPORAL_TLS="yes": want true or false`},
		{"missing certificate", map[string]string{"TEMPORAL_TLS_CLIENT_CERT_PATH": "/nonexistent/c.pem", "TEMPORAL_TLS_CLIENT_KEY_PATH": good.KeyFile},
			`TEMPORAL_TLS_CLIENT_CERT_PATH="/nonexistent/c.pem": cannot read the client certificate: no such file or directory`},
		{"not a certificate", map[string]string{"TEMPORAL_TLS_CLIENT_CERT_PATH": notPEM, "TEMPORAL_TLS_CLIENT_KEY_PATH": good.KeyFile},
			`TEMPORAL_TLS_CLIENT_CERT_PATH="` + notPEM + `": not a PEM client certificate`},
		{"key without its certificate", map[string]string{"TEMPORAL_TLS_CLIENT_KEY_PATH": good.KeyFile},
			`TEMPORAL_TLS_CLIENT_KEY_PATH="` + good.KeyFile + `": the key's certificate is missing`},
		{"wrong key", map[string]string{"TEMPORAL_TLS_CLIENT_CERT_PATH": good.CertFile, "TEMPORAL_TLS_CLIENT_KEY_PATH": other.KeyFile},
			`TEMPORAL_TLS_CLIENT_KEY_PATH="` + other.KeyFile + `": not the private key of the certificate of TEMPORAL_TLS_CLIENT_CERT_PATH="` + good.CertFile + `" (tls: private key does not match public key)`},
		{"expired certificate", map[string]string{"TEMPORAL_TLS_CLIENT_CERT_PATH": expired.CertFile, "TEMPORAL_TLS_CLIENT_KEY_PATH": expired.KeyFile},
			`TEMPORAL_TLS_CLIENT_CERT_PATH="` + expired.CertFile + `": the client certificate expired on `},
		{"CA not PEM", map[string]string{"TEMPORAL_TLS_SERVER_CA_CERT_PATH": notPEM},
			`TEMPORAL_TLS_SERVER_CA_CERT_PATH="` + notPEM + `": holds no PEM CA certificate`},
		{"missing profiles file", map[string]string{"TEMPORAL_CONFIG_FILE": "/nonexistent/temporal.toml"},
			`TEMPORAL_CONFIG_FILE="/nonexistent/temporal.toml": no such file or directory`},
		{"a CLI variable streampipe does not take", map[string]string{"TEMPORAL_TLS_CLIENT_KEY_DATA": good.KeyMaterial()},
			"TEMPORAL_TLS_CLIENT_KEY_DATA is set, and streampipe does not take it: put the key in a file and set TEMPORAL_TLS_CLIENT_KEY_PATH"},
		{"a profile without a profiles file", map[string]string{"TEMPORAL_PROFILE": "prod"},
			`TEMPORAL_PROFILE="prod": no profiles file to take it from: `},
		{"unknown profile", map[string]string{"TEMPORAL_CONFIG_FILE": badProfile, "TEMPORAL_PROFILE": "staging"},
			`profile "staging" (TEMPORAL_PROFILE): unable to find profile staging`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.env["TEMPORAL_API_KEY"] = apiKey
			_, err := LoadProducer(lookup(tt.env))
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
			assert.NotContains(t, err.Error(), apiKey)
			assert.NotContains(t, err.Error(), good.KeyMaterial(), "no key material")
		})
	}
}
