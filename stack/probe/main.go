// Command probe asks one service of the local stack a real question and prints the
// answer: a metadata request to Kafka, a CQL query to Cassandra. stack/stack.sh uses it
// as the readiness check; it exits 1 when the service does not answer yet. Kafka is
// asked with the programs' KAFKA_TLS* and KAFKA_SASL_* settings (the secured stack's
// secure.env), exit 2 when they are wrong.
//
//	probe kafka 127.0.0.1:9092
//	probe cql 127.0.0.1:9042 [username password]
//
// The CQL probe speaks TLS as the programs do when CASSANDRA_TLS=1, with the
// CASSANDRA_TLS_* files of the environment.
package main

import (
	"context"
	"fmt"
	"os"
	"time"

	gocql "github.com/apache/cassandra-gocql-driver/v2"

	"github.com/streampipe/streampipe/internal/envvar"
	"github.com/streampipe/streampipe/internal/kafkaprobe"
	"github.com/streampipe/streampipe/internal/kafkasec"
)

const timeout = 3 * time.Second

func main() {
	if len(os.Args) < 3 {
		fmt.Fprintln(os.Stderr, "usage: probe kafka|cql ADDRESS [username password]")
		os.Exit(2)
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()

	var (
		answer string
		err    error
	)
	switch kind, addr := os.Args[1], os.Args[2]; kind {
	case "kafka":
		e := envvar.NewReader(os.LookupEnv)
		sec := kafkasec.Read(e)
		if err := e.Err(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		answer, err = kafkaMetadata(ctx, sec, addr)
	case "cql":
		var user, password string
		if len(os.Args) == 5 {
			user, password = os.Args[3], os.Args[4]
		}
		answer, err = cassandraVersion(ctx, addr, user, password)
	default:
		err = fmt.Errorf("unknown service %q (want kafka or cql)", kind)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Println(answer)
}

// kafkaMetadata asks on connections of its own (kafkaprobe): a shared kafka.Client
// caches a failed metadata look-up for seconds, which would slow readiness polling
// down.
func kafkaMetadata(ctx context.Context, sec *kafkasec.Security, addr string) (string, error) {
	md, err := kafkaprobe.Cluster(ctx, sec, []string{addr})
	if err != nil {
		return "", fmt.Errorf("kafka metadata request to %s: %w", addr, err)
	}
	if md.Controller.ID < 0 || len(md.Brokers) == 0 {
		return "", fmt.Errorf("kafka at %s has no controller yet", addr)
	}
	return fmt.Sprintf("cluster %s, %d broker(s), controller %d, %d topic(s)",
		md.ClusterID, len(md.Brokers), md.Controller.ID, len(md.Topics)), nil
}

func cassandraVersion(ctx context.Context, addr, user, password string) (string, error) {
	cluster := gocql.NewCluster(addr)
	cluster.Timeout = timeout
	cluster.ConnectTimeout = timeout
	cluster.DisableInitialHostLookup = true
	e := envvar.NewReader(os.LookupEnv)
	if cfg := e.TLS("CASSANDRA"); cfg != nil {
		cluster.SslOpts = &gocql.SslOptions{Config: cfg, EnableHostVerification: true}
	}
	if err := e.Err(); err != nil {
		return "", err
	}
	if user != "" {
		cluster.Authenticator = gocql.PasswordAuthenticator{Username: user, Password: password}
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
	return "Cassandra " + version, nil
}
