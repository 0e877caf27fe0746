package envvar

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"strings"
)

// Bool is the variable as 1/true/yes (true) or 0/false/no (false), in any case, or
// def when unset or blank.
func (e *Reader) Bool(name string, def bool, help string) bool {
	d := "0"
	if def {
		d = "1"
	}
	s := e.Str(name, d, help)
	switch strings.ToLower(s) {
	case "1", "true", "yes":
		return true
	case "0", "false", "no":
		return false
	}
	e.Fail(name, s, "1 or 0 (true or false)")
	return def
}

// TLS reads the TLS settings of a client of one server, the variables PREFIX_TLS (1:
// speak TLS), PREFIX_TLS_CA_FILE (PEM certificates of the CAs to trust instead of the
// system's), PREFIX_TLS_CERT_FILE and PREFIX_TLS_KEY_FILE (PEM certificate and key
// for mutual TLS, both or neither) and PREFIX_TLS_SERVER_NAME (the name the server's
// certificate must hold, instead of the host dialled); server names what the client
// connects to, plural, for their meanings (e.g. "the brokers"). It returns nil when TLS is off.
// The server's certificate is always verified. The files are read now, so that an
// unreadable or wrong one is reported with its variable before anything connects.
func (e *Reader) TLS(prefix, server string) *tls.Config {
	on := e.Bool(prefix+"_TLS", false, "`1`: speak TLS (1.2 or later) to "+server+", always verifying their certificates; `0`: plaintext. "+
		"A `"+prefix+"_TLS_*` variable set without `1` is refused")
	v := func(suffix, help string) (name, value string) {
		name = prefix + "_TLS_" + suffix
		return name, e.Str(name, "", help)
	}
	caVar, ca := v("CA_FILE", "PEM file of the CA certificates that sign the certificates of "+server+"; unset: the system's")
	certVar, cert := v("CERT_FILE", "PEM client certificate for mutual TLS, when "+server+" require one; with `"+prefix+"_TLS_KEY_FILE`")
	keyVar, key := v("KEY_FILE", "the PEM private key of `"+prefix+"_TLS_CERT_FILE` (its content is never logged)")
	nameVar, serverName := v("SERVER_NAME", "the name the certificates of "+server+" must hold (and the SNI sent); unset: the host dialled")
	if !on {
		for _, s := range [][2]string{{caVar, ca}, {certVar, cert}, {keyVar, key}, {nameVar, serverName}} {
			if s[1] != "" {
				e.errs = append(e.errs, fmt.Errorf("%s is set but %s_TLS is not 1: set %s_TLS=1 to speak TLS, or unset %s",
					s[0], prefix, prefix, s[0]))
			}
		}
		return nil
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: serverName}
	if ca != "" {
		cfg.RootCAs = e.certPool(caVar, ca)
	}
	switch {
	case cert != "" && key != "":
		cfg.Certificates = e.keyPair(certVar, cert, keyVar, key)
	case cert != "" || key != "":
		set, unset := certVar, keyVar
		if key != "" {
			set, unset = keyVar, certVar
		}
		e.errs = append(e.errs, fmt.Errorf("%s is set but %s is not: a client certificate needs its key, and a key its certificate", set, unset))
	}
	return cfg
}

// readFile reads the file that variable name names, or records why it cannot.
func (e *Reader) readFile(name, path string) ([]byte, bool) {
	b, err := os.ReadFile(path)
	if err != nil {
		e.errs = append(e.errs, fmt.Errorf("%s=%q: cannot read the file: %v", name, path, errors.Unwrap(err)))
		return nil, false
	}
	return b, true
}

// certPool is the CA certificates of the PEM file at path.
func (e *Reader) certPool(name, path string) *x509.CertPool {
	b, ok := e.readFile(name, path)
	if !ok {
		return nil
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(b) {
		e.errs = append(e.errs, fmt.Errorf("%s=%q: the file holds no PEM certificate", name, path))
	}
	return pool
}

// keyPair is the client certificate and key of two PEM files. A key's content never
// appears in an error.
func (e *Reader) keyPair(certVar, certPath, keyVar, keyPath string) []tls.Certificate {
	certPEM, okCert := e.readFile(certVar, certPath)
	keyPEM, okKey := e.readFile(keyVar, keyPath)
	if !okCert || !okKey {
		return nil
	}
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		e.errs = append(e.errs, fmt.Errorf("%s=%q and %s=%q: not a PEM certificate and its private key: %v",
			certVar, certPath, keyVar, keyPath, err))
		return nil
	}
	return []tls.Certificate{pair}
}
