package buildinfo

import (
	"runtime/debug"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestDescribe(t *testing.T) {
	bi := &debug.BuildInfo{
		GoVersion: "go1.26.8",
		Main:      debug.Module{Path: "github.com/streampipe/streampipe", Version: "v0.0.0-20261201211120-0c569ef1a2b3+dirty"},
		Deps: []*debug.Module{
			{Path: "go.temporal.io/sdk", Version: "v1.50.0"},
			{Path: "github.com/segmentio/kafka-go", Version: "v0.4.51"},
			{Path: "github.com/apache/cassandra-gocql-driver/v2", Version: "v2.1.1", Replace: &debug.Module{Version: "v2.1.2"}},
			{Path: "github.com/google/uuid", Version: "v1.6.0"},
		},
		Settings: []debug.BuildSetting{
			{Key: "vcs.revision", Value: "0c569ef1a2b3c4d5e6f7"},
			{Key: "vcs.time", Value: "2026-12-01T21:11:20Z"},
			{Key: "vcs.modified", Value: "true"},
		},
	}
	assert.Equal(t, `worker v0.0.0-20261201211120-0c569ef1a2b3+dirty (commit 0c569ef1a2b3, 2026-12-01T21:11:20Z, with uncommitted changes)
built with go1.26.8
go.temporal.io/sdk v1.50.0
github.com/segmentio/kafka-go v0.4.51
github.com/apache/cassandra-gocql-driver/v2 v2.1.2
`, describe("worker", bi))
}
