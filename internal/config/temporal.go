package config

import (
	"cmp"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/BurntSushi/toml"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/contrib/envconfig"

	"github.com/streampipe/streampipe/internal/envvar"
)

// The Temporal frontend and namespace when neither the variables nor the profile
// name one: the local stack's.
const (
	defaultTemporalAddress   = "localhost:7233"
	defaultTemporalNamespace = "default"
)

// temporalVars are the variables of Temporal's environment configuration that the
// worker and the starter take, in the order -h lists them, with the defaults that
// apply when neither they nor the profile set a value. Their names and meanings are
// the `temporal` CLI's, so that one profile serves both.
var temporalVars = []envvar.Var{
	{Name: "TEMPORAL_CONFIG_FILE", Help: "Temporal's TOML profiles file, the `temporal` CLI's; " +
		"unset: the CLI's default, `$XDG_CONFIG_HOME/temporalio/temporal.toml` or `~/.config/temporalio/temporal.toml`, if it exists"},
	{Name: "TEMPORAL_PROFILE", Help: "the profile of that file to use; unset: `default`, if the file has one"},
	{Name: "TEMPORAL_ADDRESS", Default: defaultTemporalAddress,
		Help: "Temporal frontend, host:port; over the profile's `address` (the starter's flag `-address` over both)"},
	{Name: "TEMPORAL_NAMESPACE", Default: defaultTemporalNamespace,
		Help: "Temporal namespace of the runs and the schedules; over the profile's `namespace` (the starter's flag `-namespace` over both)"},
	{Name: "TEMPORAL_API_KEY", Help: "API key, sent as `authorization: Bearer <key>` on every call; turns TLS on (the system's CAs); " +
		"with `TEMPORAL_TLS=false` it is refused (exit 2), as is a client certificate"},
	{Name: "TEMPORAL_TLS", Help: "`true`: connect with TLS; `false`: plaintext, whatever else is set; " +
		"unset: TLS when an API key or any `TEMPORAL_TLS_*` setting is given"},
	{Name: "TEMPORAL_TLS_CLIENT_CERT_PATH", Help: "client certificate (PEM) for mutual TLS; with `TEMPORAL_TLS_CLIENT_KEY_PATH`"},
	{Name: "TEMPORAL_TLS_CLIENT_KEY_PATH", Help: "that certificate's private key (PEM)"},
	{Name: "TEMPORAL_TLS_SERVER_CA_CERT_PATH", Help: "CA certificate(s) (PEM) trusted for the server's certificate, instead of the system's"},
	{Name: "TEMPORAL_TLS_SERVER_NAME", Help: "name the server's certificate must carry (and the SNI sent), when not the address's host"},
	{Name: "TEMPORAL_TLS_DISABLE_HOST_VERIFICATION", Help: "`true`: do not verify the server's certificate at all; refused (exit 2), " +
		"as is `disable_host_verification` in a profile, unless `" + insecureSkipVerify + "=1` too"},
}

// temporalRefused are variables of Temporal's environment configuration that the
// worker and the starter do not take, with what to use instead: refused when set,
// since they change how to connect. (TEMPORAL_CODEC_* and TEMPORAL_GRPC_META_* are
// not looked at: a worker must not call a remote codec, and headers come from a
// profile's grpc_meta.)
var temporalRefused = map[string]string{
	"TEMPORAL_TLS_CLIENT_CERT_DATA":    "put the certificate in a file and set TEMPORAL_TLS_CLIENT_CERT_PATH",
	"TEMPORAL_TLS_CLIENT_KEY_DATA":     "put the key in a file and set TEMPORAL_TLS_CLIENT_KEY_PATH",
	"TEMPORAL_TLS_SERVER_CA_CERT_DATA": "put the CA certificate in a file and set TEMPORAL_TLS_SERVER_CA_CERT_PATH",
	"TEMPORAL_CLIENT_AUTHORITY":        "set authority in a profile (TEMPORAL_CONFIG_FILE)",
}

// temporalBools are the variables Temporal reads as booleans; it ignores any other
// value without a word, so they are checked here.
var temporalBools = []string{"TEMPORAL_TLS", "TEMPORAL_TLS_DISABLE_HOST_VERIFICATION"}

// envLookup hands Temporal's loader the variables as read through the Reader: it
// sees no other variable, blank ones are unset (as for every other variable of the
// programs), and TEMPORAL_API_KEY may come from TEMPORAL_API_KEY_FILE.
type envLookup map[string]string

func (l envLookup) LookupEnv(name string) (string, bool) { v, ok := l[name]; return v, ok }

// Environ is empty: TEMPORAL_GRPC_META_* headers are not taken from the environment.
func (envLookup) Environ() []string { return nil }

// readTemporalVars reads temporalVars through e: those that are set, by name.
func readTemporalVars(e *envvar.Reader) envLookup {
	env := envLookup{}
	for _, v := range temporalVars {
		var s string
		var ok bool
		if v.Name == "TEMPORAL_API_KEY" {
			s = e.Secret(v.Name, v.Help)
			ok = s != ""
		} else {
			s, ok = e.Lookup(v.Name, v.Default, v.Help)
		}
		if ok {
			env[v.Name] = s
		}
	}
	for name, instead := range temporalRefused {
		e.Refuse(name, instead)
	}
	for _, name := range temporalBools {
		if s, ok := env[name]; ok && !isBool(s) {
			e.Fail(name, s, "true or false (or 1 or 0)")
		}
	}
	return env
}

// isBool is what Temporal's loader takes as a boolean.
func isBool(s string) bool {
	switch strings.ToLower(s) {
	case "1", "0", "true", "false":
		return true
	}
	return false
}

// temporalConnection is where a Temporal setting came from, to name it in an error:
// the variable when it is set, else the profile of the configuration file.
type temporalConnection struct {
	env           envLookup
	file, profile string
}

// of names the setting of variable name, or of key in the profile, with its value.
func (c temporalConnection) of(name, key, value string) string {
	if _, ok := c.env[name]; ok {
		return fmt.Sprintf("%s=%q", name, value)
	}
	return fmt.Sprintf("%s = %q in profile %q of %s", key, value, c.profile, c.file)
}

// loadConnection reads how to reach Temporal: the profile of Temporal's
// configuration file (TEMPORAL_CONFIG_FILE, TEMPORAL_PROFILE), then the TEMPORAL_*
// variables over it, as the `temporal` CLI does. Certificates and keys are loaded
// and checked here, so that a bad one is refused before anything connects.
func loadConnection(e *envvar.Reader) (address, namespace string, opts client.Options) {
	defer e.Group("Temporal")()
	c := temporalConnection{env: readTemporalVars(e), file: envconfig.DefaultConfigFilePath(), profile: envconfig.DefaultConfigFileProfile}
	insecure := e.Bool(insecureSkipVerify, false, "`1`: do not verify the server's certificate (anyone on the path can pose as Temporal "+
		"and receive the API key); warned about at every start; for tests only")
	file, fileSet := c.env["TEMPORAL_CONFIG_FILE"]
	profile, profileSet := c.env["TEMPORAL_PROFILE"]
	if fileSet {
		c.file = file
	}
	if profileSet {
		c.profile = profile
	}
	// Temporal's loader takes a missing file for an empty one: a file or a profile
	// asked for by name must exist.
	if _, err := os.Stat(c.file); err != nil && (fileSet || profileSet) {
		if fileSet {
			e.Add(fmt.Errorf("TEMPORAL_CONFIG_FILE=%q: %v", c.file, errors.Unwrap(err)))
		} else {
			e.Add(fmt.Errorf("TEMPORAL_PROFILE=%q: no profiles file to take it from: %s does not exist (TEMPORAL_CONFIG_FILE names another)", c.profile, c.file))
		}
		return "", "", client.Options{}
	}
	prof, err := envconfig.LoadClientConfigProfile(envconfig.LoadClientConfigProfileOptions{
		ConfigFilePath: c.file, ConfigFileProfile: c.env["TEMPORAL_PROFILE"], EnvLookup: c.env,
	})
	if err != nil {
		e.Add(fmt.Errorf("the Temporal configuration file %s (TEMPORAL_CONFIG_FILE), profile %q (TEMPORAL_PROFILE): %s", c.file, c.profile, profileProblem(err, c.profile)))
		return "", "", client.Options{}
	}
	if c.checkCredentials(e, &prof, insecure) {
		return "", "", client.Options{}
	}
	address, namespace = prof.Address, prof.Namespace
	if address == "" {
		address = defaultTemporalAddress
	}
	if namespace == "" {
		namespace = defaultTemporalNamespace
	}
	if !envvar.HostPortOK(address) {
		e.Add(fmt.Errorf("%s: want host:port, such as %q; this one is malformed", c.of("TEMPORAL_ADDRESS", "address", address), defaultTemporalAddress))
	}
	if prof.TLS != nil && !prof.TLS.Disabled {
		if errs := c.checkTLS(prof.TLS); len(errs) > 0 {
			for _, err := range errs {
				e.Add(err)
			}
			return address, namespace, client.Options{}
		}
	}
	opts, err = prof.ToClientOptions(envconfig.ToClientOptionsRequest{})
	if err != nil {
		e.Add(fmt.Errorf("the Temporal client settings (profile %q of %s and TEMPORAL_*): %v", c.profile, c.file, err))
	}
	return address, namespace, opts
}

// profileProblem says what is wrong with the profiles file, err being the error of
// Temporal's loader. The TOML parser's message quotes the text around what it
// refuses, which may be part of an api_key: only the line and the key are told.
func profileProblem(err error, profile string) string {
	if perr, ok := errors.AsType[toml.ParseError](err); ok {
		at := fmt.Sprintf("line %d", perr.Position.Line)
		if perr.LastKey != "" {
			at += fmt.Sprintf(" (after key %s)", perr.LastKey)
		}
		return at + " is not valid TOML (its text is not shown: it may hold a secret)"
	}
	if strings.Contains(err.Error(), "unable to find profile") {
		return fmt.Sprintf("unable to find profile %s in it", profile)
	}
	return "not a Temporal profiles file of values of the right types (the loader's message is not shown: it may hold a secret)"
}

// checkCredentials holds the connection to the rules Kafka's and Cassandra's follow,
// recording in e what breaks them, and reports whether anything did: credentials (an
// API key, a client certificate) only over TLS; a profile's API key a secret
// envvar.CheckSecret takes; the server's certificate always checked, unless
// TEMPORAL_TLS_INSECURE_SKIP_VERIFY=1 asks for the opposite, which is then warned
// about.
func (c temporalConnection) checkCredentials(e *envvar.Reader, prof *envconfig.ClientConfigProfile, insecure bool) bool {
	var errs []error
	keyAt := e.SecretFrom("TEMPORAL_API_KEY")
	if _, ok := c.env["TEMPORAL_API_KEY"]; !ok {
		keyAt = fmt.Sprintf("api_key in profile %q of %s", c.profile, c.file)
		if err := envvar.CheckSecret("API key", prof.APIKey); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", keyAt, err))
		}
	}
	t := prof.TLS
	switch {
	case t != nil && t.Disabled:
		tlsOff := c.of("TEMPORAL_TLS", "tls.disabled", cmp.Or(c.env["TEMPORAL_TLS"], "true"))
		var creds []string
		if prof.APIKey != "" {
			creds = append(creds, keyAt+" is set")
		}
		if t.ClientCertPath != "" || t.ClientKeyPath != "" || len(t.ClientCertData) > 0 || len(t.ClientKeyData) > 0 {
			creds = append(creds, "a client certificate ("+c.of("TEMPORAL_TLS_CLIENT_CERT_PATH", "tls.client_cert_path", t.ClientCertPath)+") is set")
		}
		if len(creds) > 0 {
			errs = append(errs, fmt.Errorf("%s turns TLS off, yet %s: credentials are for TLS only (an API key would go to the server in plaintext, "+
				"a client certificate would be ignored); turn TLS on (TEMPORAL_TLS=true), or remove them", tlsOff, strings.Join(creds, " and ")))
		}
		if insecure {
			errs = append(errs, fmt.Errorf("%s=1 is set but %s turns TLS off: unset %s", insecureSkipVerify, tlsOff, insecureSkipVerify))
		}
	case t != nil && t.DisableHostVerification && !insecure:
		errs = append(errs, fmt.Errorf("%s turns off the check of the server's certificate, so that anyone on the network path can pose as Temporal "+
			"(and receive the API key): refused unless %s=1 asks for it too (tests only)",
			c.of("TEMPORAL_TLS_DISABLE_HOST_VERIFICATION", "tls.disable_host_verification", "true"), insecureSkipVerify))
	case insecure && t == nil && prof.APIKey == "":
		errs = append(errs, fmt.Errorf("%s=1 is set but TLS is off: unset it, or turn TLS on (TEMPORAL_TLS=true)", insecureSkipVerify))
	case insecure:
		if t == nil {
			prof.TLS = &envconfig.ClientConfigTLS{}
		}
		prof.TLS.DisableHostVerification = true
		e.Warn("%s=1: the Temporal server's certificate is not checked, so that anyone on the network path can pose as it "+
			"(and receive the API key); unset it outside tests", insecureSkipVerify)
	}
	for _, err := range errs {
		e.Add(err)
	}
	return len(errs) > 0
}

// insecureSkipVerify is the variable that lets the Temporal client skip the check
// of the server's certificate: its name says what it costs.
const insecureSkipVerify = "TEMPORAL_TLS_INSECURE_SKIP_VERIFY"

// checkTLS loads the client certificate, its key and the CA that t names, and says
// what is wrong with each, naming where it was set: a file that cannot be read, a
// key that is not the certificate's, a certificate out of its validity period.
func (c temporalConnection) checkTLS(t *envconfig.ClientConfigTLS) []error {
	var errs []error
	certAt := c.of("TEMPORAL_TLS_CLIENT_CERT_PATH", "tls.client_cert_path", t.ClientCertPath)
	keyAt := c.of("TEMPORAL_TLS_CLIENT_KEY_PATH", "tls.client_key_path", t.ClientKeyPath)
	switch {
	case t.ClientCertPath != "" && t.ClientKeyPath == "":
		errs = append(errs, fmt.Errorf("%s: the certificate's key is missing: set TEMPORAL_TLS_CLIENT_KEY_PATH too", certAt))
	case t.ClientCertPath == "" && t.ClientKeyPath != "":
		errs = append(errs, fmt.Errorf("%s: the key's certificate is missing: set TEMPORAL_TLS_CLIENT_CERT_PATH too", keyAt))
	case t.ClientCertPath != "":
		if err := checkKeyPair(t.ClientCertPath, t.ClientKeyPath, certAt, keyAt, time.Now()); err != nil {
			errs = append(errs, err)
		}
	}
	if t.ServerCACertPath != "" {
		if err := checkCA(t.ServerCACertPath); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", c.of("TEMPORAL_TLS_SERVER_CA_CERT_PATH", "tls.server_ca_cert_path", t.ServerCACertPath), err))
		}
	}
	return errs
}

// checkKeyPair says what is wrong with a client certificate and its key, if
// anything. Its errors never hold the key's content.
func checkKeyPair(certPath, keyPath, certAt, keyAt string, now time.Time) error {
	certPEM, err := os.ReadFile(certPath)
	if err != nil {
		return fmt.Errorf("%s: cannot read the client certificate: %v", certAt, errors.Unwrap(err))
	}
	leaf, err := parseCert(certPEM)
	if err != nil {
		return fmt.Errorf("%s: not a PEM client certificate: %v", certAt, err)
	}
	keyPEM, err := os.ReadFile(keyPath)
	if err != nil {
		return fmt.Errorf("%s: cannot read the client key: %v", keyAt, errors.Unwrap(err))
	}
	if _, err := tls.X509KeyPair(certPEM, keyPEM); err != nil {
		return fmt.Errorf("%s: not the private key of the certificate of %s (%v)", keyAt, certAt, err)
	}
	switch {
	case now.After(leaf.NotAfter):
		return fmt.Errorf("%s: the client certificate expired on %s", certAt, leaf.NotAfter.UTC().Format(time.RFC3339))
	case now.Before(leaf.NotBefore):
		return fmt.Errorf("%s: the client certificate is not valid before %s", certAt, leaf.NotBefore.UTC().Format(time.RFC3339))
	}
	return nil
}

// parseCert is the first certificate of a PEM file.
func parseCert(b []byte) (*x509.Certificate, error) {
	for {
		var block *pem.Block
		if block, b = pem.Decode(b); block == nil {
			return nil, errors.New("no CERTIFICATE block")
		}
		if block.Type == "CERTIFICATE" {
			return x509.ParseCertificate(block.Bytes)
		}
	}
}

// checkCA says what is wrong with a file of CA certificates, if anything.
func checkCA(path string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("cannot read the CA certificate: %v", errors.Unwrap(err))
	}
	if !x509.NewCertPool().AppendCertsFromPEM(b) {
		return errors.New("holds no PEM CA certificate")
	}
	return nil
}
