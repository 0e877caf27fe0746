package streaming

import (
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/streampipe/streampipe/internal/testkit/stacktest"
	"github.com/streampipe/streampipe/rows"
)

// On the local stack's one node every row, whatever its partition key (here a
// composite one), is owned by that node: owners gives all rows the same, non-empty
// key, naming the node.
func TestOwnersOnOneNode(t *testing.T) {
	stacktest.Needs(t, stacktest.NeedsCassandra)
	user, pw := stacktest.CassandraCredentials()
	s, err := connect(Config{Hosts: stacktest.CassandraHosts(t), Username: user, Password: pw,
		Consistency: DefaultConsistency, Logger: slog.New(slog.DiscardHandler)})
	require.NoError(t, err)
	defer s.Close()
	table := fmt.Sprintf("owners_%d", time.Now().UnixNano())
	require.NoError(t, s.Query("CREATE KEYSPACE IF NOT EXISTS streaming_it WITH replication = "+DefaultReplication).Exec())
	require.NoError(t, s.Query("CREATE TABLE streaming_it."+table+" (a text, b int, c text, v text, PRIMARY KEY ((a, b), c))").Exec())
	require.NoError(t, s.AwaitSchemaAgreement(t.Context()))
	cols := []rows.Column{{Name: "c", Type: "text"}, {Name: "v", Type: "text"}, {Name: "b", Type: "int"}, {Name: "a", Type: "text"}}

	o := newOwners(s, "streaming_it", table, cols)
	require.Eventually(t, func() bool { return o.of(rows.Row{Values: []any{"c", "v", 1, "a"}}) != "" }, time.Minute, 200*time.Millisecond,
		"the driver's metadata learns the new table")
	assert.Equal(t, []keyColumn{{index: 3, typ: o.key[0].typ}, {index: 2, typ: o.key[1].typ}}, o.key, "the partition key, in the table's order")
	hosts := s.GetHosts()
	require.Len(t, hosts, 1, "the local stack has one node")
	for i := range 100 {
		assert.Equal(t, hosts[0].HostID(), o.of(rows.Row{Values: []any{"c", "v", i, fmt.Sprint("a", i)}}))
	}
}
