package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	gocql "github.com/apache/cassandra-gocql-driver/v2"
	"go.temporal.io/sdk/client"

	"github.com/streampipe/streampipe/datasets"
	"github.com/streampipe/streampipe/internal/config"
	"github.com/streampipe/streampipe/internal/misconfig"
	"github.com/streampipe/streampipe/streaming"
	"github.com/streampipe/streampipe/workflows"
)

// verifyEvery is how often verify counts the rows still missing.
const verifyEvery = time.Second

var verifyCommand = command{
	help: `Counts a run's records among the rows of its dataset's Cassandra table, by id:
the ids file that 'starter run -ids-file' wrote, looked up in the table the
streaming worker writes (CASSANDRA_HOSTS, and the dataset's keyspace and table
variables, the streaming worker's). It asks again every second until every id is
a row or -timeout has passed, then prints
  Rows in Cassandra for this run: N of M <records> published.
and exits 0 if N = M, 1 if not. It does not talk to Temporal.`,
	setup: func(fs *flag.FlagSet, cfg *config.Producer) action {
		dataset := fs.String("dataset", "", "the run's dataset: "+strings.Join(datasets.Names(), ", ")+` (default "users")`)
		idsFile := fs.String("ids-file", "", "the run's record ids, one a line, as 'starter run -ids-file' writes them (required)")
		timeout := fs.Duration("timeout", time.Minute, "how long to wait for the last rows")
		return action{
			input:   func() workflows.UserAutomationInput { return workflows.UserAutomationInput{Dataset: *dataset} },
			offline: true,
			run: func(ctx context.Context, _ client.Client, stdout, stderr io.Writer) error {
				if *idsFile == "" {
					fmt.Fprintln(stderr, "starter verify: name the run's ids file with -ids-file")
					return errUsage
				}
				ds, _ := datasets.Lookup(*dataset) // the input is valid
				return verify(ctx, cfg.Cassandra, ds, *idsFile, *timeout, stdout)
			},
		}
	},
}

// verify counts the ids of idsFile among the rows of ds's table until all are there
// or timeout has passed, and prints how many are.
func verify(ctx context.Context, cfg config.Cassandra, ds datasets.Dataset, idsFile string, timeout time.Duration, stdout io.Writer) error {
	ids, err := readIDs(idsFile)
	if err != nil {
		return err
	}
	tbl := cfg.Tables[ds.Name]
	// LOCAL_ONE: a replica in the local data centre (if one is set) answers, as the
	// worker's LOCAL_QUORUM writes there; verify asks again until the rows are there.
	session, err := streaming.Connect(streaming.Config{
		Hosts: cfg.Hosts, HostsFrom: "CASSANDRA_HOSTS", Username: cfg.Username, Password: cfg.Password,
		TLS: cfg.TLS, LocalDC: cfg.LocalDC, Consistency: "LOCAL_ONE", Logger: slog.New(slog.DiscardHandler),
	})
	if misconfig.Is(err) { // it says which settings
		return err
	}
	if err != nil {
		return fmt.Errorf("cannot reach Cassandra at %s (CASSANDRA_HOSTS): %w\n"+
			"Check that it runs (`make stack-up` starts the local one)", strings.Join(cfg.Hosts, ","), err)
	}
	defer session.Close()

	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	missing := ids
	for {
		missing, err = stillMissing(ctx, session, tbl, ds.KeyColumn(), missing)
		if err != nil && ctx.Err() == nil {
			return err
		}
		if len(missing) == 0 || ctx.Err() != nil {
			break
		}
		select {
		case <-ctx.Done():
		case <-time.After(verifyEvery):
		}
	}
	rows := len(ids) - len(missing)
	fmt.Fprintf(stdout, "Rows in Cassandra for this run: %d of %d %s published.\n", rows, len(ids), ds.RecordsNoun())
	fmt.Fprintf(stdout, "Their table: %[1]s.%[2]s (make cqlsh, then: SELECT count(*) FROM %[1]s.%[2]s;)\n", tbl.Keyspace, tbl.Table)
	if rows < len(ids) {
		return fmt.Errorf("only %d of %d %s are rows in %s.%s after %s: see the streaming worker's log",
			rows, len(ids), ds.RecordsNoun(), tbl.Keyspace, tbl.Table, timeout)
	}
	return nil
}

// stillMissing are the ids that are no row of tbl yet, asked 100 at a time.
func stillMissing(ctx context.Context, s *gocql.Session, tbl config.Table, key string, ids []string) ([]string, error) {
	const chunk = 100
	stmt := fmt.Sprintf("SELECT %s FROM %s.%s WHERE %s IN ?", key, tbl.Keyspace, tbl.Table, key)
	found := map[string]bool{}
	for start := 0; start < len(ids); start += chunk {
		iter := s.Query(stmt, ids[start:min(start+chunk, len(ids))]).IterContext(ctx)
		var id gocql.UUID
		for iter.Scan(&id) {
			found[id.String()] = true
		}
		if err := iter.Close(); err != nil {
			return ids, fmt.Errorf("counting rows of %s.%s: %w", tbl.Keyspace, tbl.Table, err)
		}
	}
	var missing []string
	for _, id := range ids {
		if !found[id] {
			missing = append(missing, id)
		}
	}
	return missing, nil
}

// readIDs reads an ids file: one id a line, blank lines ignored.
func readIDs(path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("reading the run's ids: %w", err)
	}
	defer f.Close()
	var ids []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if id := strings.TrimSpace(sc.Text()); id != "" {
			ids = append(ids, id)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading the run's ids from %s: %w", path, err)
	}
	if len(ids) == 0 {
		return nil, errors.New("the ids file " + path + " holds no id")
	}
	return ids, nil
}
