package cli

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/streampipe/streampipe/internal/envvar"
	"github.com/streampipe/streampipe/internal/misconfig"
)

// A misconfiguration a server revealed exits 2, as a bad variable does; any other
// failure 1.
func TestExitCode(t *testing.T) {
	tls := misconfig.New("the broker does not speak TLS at this address: unset KAFKA_TLS", errors.New("EOF"))
	assert.Equal(t, ExitUsage, ExitCode(fmt.Errorf("dataset users: %w", errors.Join(errors.New("other"), tls))))
	assert.Equal(t, ExitError, ExitCode(errors.New("kafka at k:9092 (KAFKA_BROKERS) is unreachable after 2m0s")))
}

// -h prints each variable with its default, and its meaning without its Markdown,
// wrapped under it.
func TestUsageWritesEachVariableWithItsMeaning(t *testing.T) {
	var out strings.Builder
	Usage{Command: "p", About: "does p.", Env: []envvar.Var{
		{Name: "P_ADDR", Default: "127.0.0.1:1", Help: "where it listens (see [Operations endpoints](#operations-endpoints)); `off`: nowhere"},
		{Name: "P_LONG", Help: strings.Repeat("word ", 20) + "end"},
		{Name: "P_FILE", Help: "a file ([declared-datasets.md](declared-datasets.md)), see [the modes](failure-modes.md#modes)"},
	}}.Write(&out, nil)
	assert.Equal(t, "Usage: p\n\ndoes p.\n\nEnvironment:\n"+
		"  P_ADDR (default 127.0.0.1:1)\n"+
		"    \twhere it listens (see Operations endpoints); off: nowhere\n"+
		"  P_LONG (default unset)\n"+
		"    \tword word word word word word word word word word word word word word word\n"+
		"    \tword word word word word end\n"+
		"  P_FILE (default unset)\n"+
		"    \ta file (docs/declared-datasets.md), see the modes (docs/failure-modes.md)\n", out.String())
}
