// Command temporalfront is the secured front of the local stack's Temporal, which
// stack/stack.sh starts when STACK_SECURE=1: the dev server has no TLS setting, so
// this front terminates TLS with the stack's server certificate, requires a client
// certificate signed by the stack's CA and the API key as bearer token, and forwards
// every call to the dev server (internal/devstack/grpcproxy). It runs until SIGINT or SIGTERM.
//
//	temporalfront -listen 127.0.0.1:7234 -upstream 127.0.0.1:7233 \
//	  -cert server.pem -key server.key -client-ca ca.pem -api-key-file temporal-api-key
package main

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/streampipe/streampipe/internal/devstack/grpcproxy"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:7234", "`address` to listen on, TLS")
	upstream := flag.String("upstream", "127.0.0.1:7233", "the plaintext Temporal frontend, `host:port`")
	cert := flag.String("cert", "", "server certificate, PEM `file`")
	key := flag.String("key", "", "its private key, PEM `file`")
	clientCA := flag.String("client-ca", "", "CA certificate, PEM `file`, that must sign the clients' certificates; empty: no client certificate asked")
	apiKeyFile := flag.String("api-key-file", "", "`file` holding the API key every call must carry; empty: none asked")
	flag.Parse()
	if err := run(*listen, *upstream, *cert, *key, *clientCA, *apiKeyFile); err != nil {
		fmt.Fprintf(os.Stderr, "temporalfront: %v\n", err)
		os.Exit(1)
	}
}

func run(listen, upstream, certFile, keyFile, clientCA, apiKeyFile string) error {
	cfg, err := tlsConfig(certFile, keyFile, clientCA)
	if err != nil {
		return err
	}
	var apiKey string
	if apiKeyFile != "" {
		b, err := os.ReadFile(apiKeyFile)
		if err != nil {
			return err
		}
		if apiKey = strings.TrimSpace(string(b)); apiKey == "" {
			return fmt.Errorf("%s holds no API key", apiKeyFile)
		}
	}
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return err
	}
	p, err := grpcproxy.Serve(ln, grpcproxy.Config{TLS: cfg, APIKey: apiKey, Upstream: upstream})
	if err != nil {
		return err
	}
	fmt.Printf("temporalfront: TLS on %s (client certificate: %t, API key: %t), forwarding to %s\n",
		listen, clientCA != "", apiKey != "", upstream)
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	<-sig
	p.Stop()
	return nil
}

// tlsConfig is the listener's: its certificate and, with a client CA, mutual TLS.
func tlsConfig(certFile, keyFile, clientCA string) (*tls.Config, error) {
	if certFile == "" || keyFile == "" {
		return nil, errors.New("-cert and -key are required")
	}
	pair, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, err
	}
	if clientCA == "" {
		return &tls.Config{Certificates: []tls.Certificate{pair}, MinVersion: tls.VersionTLS12}, nil
	}
	pem, err := os.ReadFile(clientCA)
	if err != nil {
		return nil, err
	}
	cas := x509.NewCertPool()
	if !cas.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("%s holds no PEM certificate", clientCA)
	}
	return grpcproxy.MutualTLS(pair, cas), nil
}
