package cli

import (
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/streampipe/streampipe/internal/misconfig"
)

// A misconfiguration a server revealed exits 2, as a bad variable does; any other
// failure 1.
func TestExitCode(t *testing.T) {
	tls := misconfig.New("the broker does not speak TLS at this address: unset KAFKA_TLS", errors.New("EOF"))
	assert.Equal(t, ExitUsage, ExitCode(fmt.Errorf("dataset users: %w", errors.Join(errors.New("other"), tls))))
	assert.Equal(t, ExitError, ExitCode(errors.New("kafka at k:9092 (KAFKA_BROKERS) is unreachable after 2m0s")))
}
