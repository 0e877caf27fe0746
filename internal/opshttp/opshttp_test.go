package opshttp

import (
	"context"
	"log/slog"
	"net"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func ready(context.Context) error { return nil }

func TestListenCallsABusyPortBusy(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	addr := ln.Addr().String()
	_, port, _ := net.SplitHostPort(addr)

	_, err = Listen(addr, NewRegistry(), ready, slog.New(slog.DiscardHandler))
	require.Error(t, err)
	assert.ErrorContains(t, err, "port "+port+" is busy: another program listens on "+addr)
}

func TestListenReportsOtherErrorsPlainly(t *testing.T) {
	_, err := Listen("127.0.0.1:99999", NewRegistry(), ready, slog.New(slog.DiscardHandler))
	require.Error(t, err)
	assert.ErrorContains(t, err, "serving /metrics and /healthz on 127.0.0.1:99999: ")
	assert.NotContains(t, err.Error(), "busy")
}
