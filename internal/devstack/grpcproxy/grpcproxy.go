// Package grpcproxy puts a secured front on a plaintext gRPC server, as a Temporal
// Cloud or a TLS-configured Temporal frontend is to its clients: it terminates TLS,
// requires a client certificate signed by its CA, checks that each call carries the
// API key as its bearer token, and forwards every call unchanged to the server.
//
// The local Temporal (the dev server) has no TLS setting; this proxy is how the
// tests and the secured local stack speak mutual TLS and API keys to it.
package grpcproxy

import (
	"context"
	"crypto/subtle"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// Config is what the proxy requires and where it forwards.
type Config struct {
	// TLS is the listener's: its certificate, and ClientCAs with ClientAuth
	// tls.RequireAndVerifyClientCert for mutual TLS.
	TLS *tls.Config
	// APIKey, if set, must arrive as "authorization: Bearer <APIKey>" on every call.
	APIKey string
	// Upstream is the plaintext gRPC server, host:port.
	Upstream string
}

// MutualTLS is a listener's TLS configuration: cert, and client certificates
// required, signed by one of cas; TLS 1.2 at least.
func MutualTLS(cert tls.Certificate, cas *x509.CertPool) *tls.Config {
	return &tls.Config{
		Certificates: []tls.Certificate{cert},
		ClientCAs:    cas,
		ClientAuth:   tls.RequireAndVerifyClientCert,
		MinVersion:   tls.VersionTLS12,
	}
}

// Proxy is a running proxy.
type Proxy struct {
	srv *grpc.Server
	up  *grpc.ClientConn
	key string
}

// Serve starts a proxy on ln, forwarding to cfg.Upstream, until Stop.
func Serve(ln net.Listener, cfg Config) (*Proxy, error) {
	up, err := grpc.NewClient(cfg.Upstream, grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.ForceCodec(frameCodec{})))
	if err != nil {
		return nil, err
	}
	p := &Proxy{up: up, key: cfg.APIKey}
	p.srv = grpc.NewServer(grpc.Creds(credentials.NewTLS(cfg.TLS)), grpc.ForceServerCodec(frameCodec{}),
		grpc.UnknownServiceHandler(p.forward))
	go func() { _ = p.srv.Serve(ln) }()
	return p, nil
}

// Stop closes the listener and every connection.
func (p *Proxy) Stop() {
	p.srv.Stop()
	_ = p.up.Close()
}

// errKeyRefused and errNoKey are the proxy's answers to a call without the API key.
var (
	errKeyRefused = status.Error(codes.Unauthenticated, "the API key was refused")
	errNoKey      = status.Error(codes.Unauthenticated, "no API key: an authorization: Bearer <key> header is required")
)

// authorize checks the call's bearer token against the API key.
func (p *Proxy) authorize(md metadata.MD) error {
	if p.key == "" {
		return nil
	}
	auth := md.Get("authorization")
	if len(auth) == 0 {
		return errNoKey
	}
	if subtle.ConstantTimeCompare([]byte(auth[0]), []byte("Bearer "+p.key)) != 1 {
		return errKeyRefused
	}
	return nil
}

// forward relays one call, of any method and kind of stream, to the upstream
// server, and its answer, status and metadata back.
func (p *Proxy) forward(_ any, in grpc.ServerStream) error {
	method, _ := grpc.MethodFromServerStream(in)
	md, _ := metadata.FromIncomingContext(in.Context())
	if err := p.authorize(md); err != nil {
		return err
	}
	md = md.Copy()
	delete(md, "authorization") // the key stops here, as at a real front end
	ctx, cancel := context.WithCancel(metadata.NewOutgoingContext(in.Context(), md))
	defer cancel()
	out, err := p.up.NewStream(ctx, &grpc.StreamDesc{ServerStreams: true, ClientStreams: true}, method)
	if err != nil {
		return err
	}
	go relayRequests(in, out)
	return relayResponses(out, in)
}

// relayRequests copies the client's messages to the server, then half-closes.
func relayRequests(in grpc.ServerStream, out grpc.ClientStream) {
	for {
		var f frame
		if err := in.RecvMsg(&f); err != nil {
			_ = out.CloseSend()
			return
		}
		if err := out.SendMsg(&f); err != nil {
			return
		}
	}
}

// relayResponses copies the server's headers, messages and trailers to the client;
// its result is the server's status.
func relayResponses(out grpc.ClientStream, in grpc.ServerStream) error {
	if h, err := out.Header(); err == nil {
		_ = in.SendHeader(h)
	}
	for {
		var f frame
		err := out.RecvMsg(&f)
		if err != nil {
			in.SetTrailer(out.Trailer())
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
		if err := in.SendMsg(&f); err != nil {
			return err
		}
	}
}

// frame is a message as bytes on the wire, not decoded.
type frame struct{ payload []byte }

// frameCodec passes frames through unchanged. It names itself "proto" so that
// the calls keep their content type.
type frameCodec struct{}

func (frameCodec) Marshal(v any) ([]byte, error) { return v.(*frame).payload, nil }

func (frameCodec) Unmarshal(data []byte, v any) error {
	v.(*frame).payload = append([]byte(nil), data...)
	return nil
}

func (frameCodec) Name() string { return "proto" }
