// Package tlstest makes certificates for tests: a CA that signed nothing a server
// of the stack has, to prove a client refuses it.
package tlstest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// SelfSignedCA writes a new self-signed CA certificate named cn, valid for an hour,
// and its private key (PKCS#8) as PEM files in a folder of the test's, and returns
// their paths.
func SelfSignedCA(t testing.TB, cn string) (cert, key string) {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	cert, key = filepath.Join(dir, "ca.pem"), filepath.Join(dir, "ca.key")
	write(t, cert, &pem.Block{Type: "CERTIFICATE", Bytes: der})
	write(t, key, &pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})
	return cert, key
}

func write(t testing.TB, file string, b *pem.Block) {
	t.Helper()
	if err := os.WriteFile(file, pem.EncodeToMemory(b), 0o600); err != nil {
		t.Fatal(err)
	}
}
