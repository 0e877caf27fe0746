// Command probe asks one service of the local stack a real question and prints the
// answer: a metadata request to Kafka, a CQL query to Cassandra. stack/stack.sh uses it
// as the readiness check; it exits 1 when the service does not answer yet. Kafka is
// asked with the programs' KAFKA_TLS* and KAFKA_SASL_* settings (the secured stack's
// secure.env), exit 2 when they are wrong.
//
//	probe [-nodes N] kafka 127.0.0.1:9092
//	probe [-nodes N] cql 127.0.0.1:9042
//
// The CQL probe logs in as the programs do, with CASSANDRA_USERNAME and
// CASSANDRA_PASSWORD (or CASSANDRA_PASSWORD_FILE) of the environment (a password is
// never an argument: every local user can read those), and speaks TLS as they do when
// CASSANDRA_TLS=1, with the CASSANDRA_TLS_* files of the environment. With -nodes N (a cluster of the local
// stack), the answer counts only once N brokers are in Kafka's metadata, or once the
// Cassandra node knows N-1 peers in the ring.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"time"

	gocql "github.com/apache/cassandra-gocql-driver/v2"

	"github.com/streampipe/streampipe/internal/envvar"
	"github.com/streampipe/streampipe/internal/kafkasec"
)

const timeout = 3 * time.Second

func main() {
	nodes := flag.Int("nodes", 1, "how many nodes the cluster has")
	flag.Usage = func() {
		fmt.Fprintln(os.Stderr, "usage: probe [-nodes N] kafka|cql ADDRESS")
	}
	flag.Parse()
	args := flag.Args()
	if len(args) != 2 || *nodes < 1 {
		flag.Usage()
		os.Exit(2)
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()

	var (
		answer string
		err    error
	)
	switch kind, addr := args[0], args[1]; kind {
	case "kafka":
		e := envvar.NewReader(os.LookupEnv)
		sec := kafkasec.Read(e)
		if err := e.Err(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		answer, err = kafkaMetadata(ctx, sec, addr, *nodes)
	case "cql":
		answer, err = cassandraVersion(ctx, addr, *nodes)
	default:
		err = fmt.Errorf("unknown service %q (want kafka or cql)", kind)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Println(answer)
}

// kafkaMetadata asks on connections of its own (kafkasec.Cluster): a shared kafka.Client
// caches a failed metadata look-up for seconds, which would slow readiness polling
// down.
func kafkaMetadata(ctx context.Context, sec *kafkasec.Security, addr string, brokers int) (string, error) {
	md, err := kafkasec.Cluster(ctx, sec, []string{addr})
	if err != nil {
		return "", fmt.Errorf("kafka metadata request to %s: %w", addr, err)
	}
	if md.Controller.ID < 0 || len(md.Brokers) == 0 {
		return "", fmt.Errorf("kafka at %s has no controller yet", addr)
	}
	if len(md.Brokers) < brokers {
		return "", fmt.Errorf("kafka at %s: %d of %d brokers in the metadata", addr, len(md.Brokers), brokers)
	}
	return fmt.Sprintf("cluster %s, %d broker(s), controller %d, %d topic(s)",
		md.ClusterID, len(md.Brokers), md.Controller.ID, len(md.Topics)), nil
}

func cassandraVersion(ctx context.Context, addr string, nodes int) (string, error) {
	cluster := gocql.NewCluster(addr)
	cluster.Timeout = timeout
	cluster.ConnectTimeout = timeout
	cluster.DisableInitialHostLookup = true
	e := envvar.NewReader(os.LookupEnv)
	c := e.Cassandra() // the programs' settings; the address is the probe's
	if c.TLS != nil {
		cluster.SslOpts = &gocql.SslOptions{Config: c.TLS, EnableHostVerification: true}
	}
	if err := e.Err(); err != nil {
		return "", err
	}
	if c.Username != "" {
		cluster.Authenticator = gocql.PasswordAuthenticator{Username: c.Username, Password: c.Password}
	}
	session, err := cluster.CreateSession()
	if err != nil {
		return "", fmt.Errorf("cassandra at %s: %w", addr, err)
	}
	defer session.Close()
	var version string
	if err := session.Query("SELECT release_version FROM system.local").
		ScanContext(ctx, &version); err != nil {
		return "", fmt.Errorf("cassandra at %s: query system.local: %w", addr, err)
	}
	if nodes == 1 {
		return "Cassandra " + version, nil
	}
	// A node lists a peer in system.peers_v2 once gossip has told it the peer's
	// tokens: with N-1 of them, the ring it sees is whole.
	var peers int
	if err := session.Query("SELECT count(*) FROM system.peers_v2").ScanContext(ctx, &peers); err != nil {
		return "", fmt.Errorf("cassandra at %s: query system.peers_v2: %w", addr, err)
	}
	if peers < nodes-1 {
		return "", fmt.Errorf("cassandra at %s: %d of %d nodes in its ring", addr, peers+1, nodes)
	}
	return fmt.Sprintf("Cassandra %s, %d nodes in its ring", version, peers+1), nil
}
