package streaming_test

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/streampipe/streampipe/internal/testkit/sparkpeer"
)

// sparkContender is the seed's Spark Structured Streaming job (from_json with the
// seed's schema, written with the Spark Cassandra connector), local[2], with Spark's
// default trigger and no limit per trigger, as the seed runs it. It needs the Spark
// peer, which installs once per machine into the stack cache; if it cannot, the
// bench says why and runs the rest.
func sparkContender(p *pipe) contender {
	table := p.table + "_spark"
	return contender{name: "Spark", setting: "local[2], seed's job", table: testKeyspace + "." + table,
		rates: []int{1000}, grace: 2 * time.Minute,
		start: func(b *testing.B) (*running, string) {
			ctx, cancel := context.WithTimeout(b.Context(), 15*time.Minute)
			defer cancel()
			peer, err := sparkpeer.Ensure(ctx)
			if err != nil {
				return nil, err.Error()
			}
			createUsersTable(b, p, table)
			dropAfter(b, p, table)
			host, port, err := net.SplitHostPort(p.db.hosts[0])
			if err != nil { // no port: Cassandra's
				host, port = p.db.hosts[0], "9042"
			}
			portN, err := strconv.Atoi(port)
			require.NoError(b, err)
			logFile := filepath.Join(os.TempDir(), "streampipe-bench-spark-"+p.table+".log")
			b.Logf("Spark's log: %s", logFile)
			b.Cleanup(func() {
				if !b.Failed() { // kept as evidence otherwise
					_ = os.Remove(logFile)
				}
			})
			started := time.Now()
			run, err := peer.Start(context.Background(), sparkpeer.Job{
				Brokers: p.brokers, Topic: p.topic, CassandraHost: host, CassandraPort: portN,
				Keyspace: testKeyspace, Table: table, Checkpoint: b.TempDir(), Log: logFile,
			})
			require.NoError(b, err)
			var rows atomic.Int64
			exited := make(chan struct{})
			go func() {
				for batch := range run.Batches() {
					rows.Add(batch.Rows)
				}
				close(exited) // Batches is closed when the job exits
			}()
			return &running{
				started: started,
				pids:    run.Pids,
				rows:    func() (float64, error) { return float64(rows.Load()), nil },
				exited: func() error {
					select {
					case <-exited:
						if err := run.Wait(); err != nil {
							return err
						}
						return errors.New("the Spark job exited; its log: " + logFile)
					default:
						return nil
					}
				},
				stop: func(b *testing.B) { require.NoError(b, run.Stop(time.Minute)) },
			}, ""
		}}
}
