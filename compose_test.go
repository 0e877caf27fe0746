// Checks of docker-compose.yml and the Dockerfile. No Docker engine is needed: the
// compose file is loaded and schema-validated by the Compose specification's own Go
// library, then checked against the public surface (README.md and
// docs/configuration.md), the local stack's pinned versions, the programs `make
// build` builds, and what it must never do: publish a port beyond the host's loopback,
// or give a password a default.
package streampipe_test

import (
	"bufio"
	"context"
	"maps"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"
)

// passwords are the variables compose refuses to start without, each with the value
// the tests give it.
var passwords = map[string]string{
	"TEMPORAL_DB_PASSWORD":     "test-db-password",
	"KAFKA_SASL_PASSWORD":      "test-kafka-password",
	"CASSANDRA_PASSWORD":       "test-cassandra-password",
	"CASSANDRA_ADMIN_PASSWORD": "test-cassandra-admin-password",
	"GRAFANA_ADMIN_PASSWORD":   "test-grafana-password",
}

// loadCompose loads docker-compose.yml as `docker compose` would with the passwords
// set and nothing else.
func loadCompose(t *testing.T) *types.Project {
	t.Helper()
	project, err := tryLoadCompose(passwords)
	require.NoError(t, err)
	return project
}

func tryLoadCompose(env map[string]string) (*types.Project, error) {
	var list []string
	for k, v := range env {
		list = append(list, k+"="+v)
	}
	opts, err := cli.NewProjectOptions([]string{"docker-compose.yml"},
		cli.WithEnv(list), cli.WithProfiles([]string{"cli"}))
	if err != nil {
		return nil, err
	}
	return opts.LoadProject(context.Background()) // schema validation is on
}

// versions reads stack/versions.env, the versions the local stack runs.
func versions(t *testing.T) map[string]string {
	t.Helper()
	f, err := os.Open("stack/versions.env")
	require.NoError(t, err)
	defer f.Close()
	out := map[string]string{}
	s := bufio.NewScanner(f)
	for s.Scan() {
		if k, v, ok := strings.Cut(s.Text(), "="); ok && !strings.HasPrefix(k, "#") {
			out[k] = v
		}
	}
	return out
}

// programs returns the packages `make build` builds, from the Makefile's PROGRAMS.
func programs(t *testing.T) []string {
	t.Helper()
	makefile, err := os.ReadFile("Makefile")
	require.NoError(t, err)
	m := regexp.MustCompile(`(?m)^PROGRAMS := \$\(wildcard ([^)]*)\)`).FindSubmatch(makefile)
	require.NotNil(t, m, "Makefile defines PROGRAMS")
	return strings.Fields(string(m[1]))
}

func TestComposeServices(t *testing.T) {
	project := loadCompose(t)
	v := versions(t)

	want := map[string]struct {
		image string
		ports []uint32 // published on the host
	}{
		"postgresql":         {image: "postgres:16"},
		"temporal-schema":    {image: "temporalio/admin-tools:" + v["TEMPORAL_SERVER_VERSION"]},
		"temporal":           {image: "temporalio/server:" + v["TEMPORAL_SERVER_VERSION"], ports: []uint32{7233}},
		"temporal-namespace": {image: "temporalio/admin-tools:" + v["TEMPORAL_SERVER_VERSION"]},
		"temporal-ui":        {image: "temporalio/ui:" + v["TEMPORAL_UI_VERSION"], ports: []uint32{8080}},
		"kafka":              {image: "apache/kafka:" + v["KAFKA_VERSION"], ports: []uint32{9092}},
		"kafka-init":         {image: "apache/kafka:" + v["KAFKA_VERSION"]},
		"kafka-ui":           {image: "ghcr.io/kafbat/kafka-ui:v1.2.0", ports: []uint32{8085}},
		"cassandra":          {image: "cassandra:" + v["CASSANDRA_VERSION"], ports: []uint32{9042}},
		"cassandra-init":     {image: "cassandra:" + v["CASSANDRA_VERSION"]},
		"worker":             {image: "streampipe:latest", ports: []uint32{9101}},
		"streaming":          {image: "streampipe:latest", ports: []uint32{9102}},
		"starter":            {image: "streampipe:latest"},
		"prometheus":         {image: "prom/prometheus:v3.5.0", ports: []uint32{9090}},
		"grafana":            {image: "grafana/grafana:12.1.0", ports: []uint32{3000}},
	}
	require.ElementsMatch(t, slices.Collect(maps.Keys(want)), project.ServiceNames())
	for name, w := range want {
		svc := project.Services[name]
		require.Equal(t, w.image, svc.Image, name)
		var published []uint32
		for _, p := range svc.Ports {
			published = append(published, mustPort(t, p.Published))
		}
		require.ElementsMatch(t, w.ports, published, name)
	}

	// Stateful services keep their data in named volumes.
	for _, name := range []string{"postgresql", "kafka", "cassandra"} {
		vols := project.Services[name].Volumes
		require.Len(t, vols, 1, name)
		require.Equal(t, types.VolumeTypeVolume, vols[0].Type, name)
	}
	// Start order follows health, not just start.
	require.Equal(t, types.ServiceConditionHealthy, project.Services["worker"].DependsOn["temporal"].Condition)
	require.Equal(t, types.ServiceConditionCompletedSuccessfully, project.Services["temporal"].DependsOn["temporal-schema"].Condition)
	require.Equal(t, types.ServiceConditionCompletedSuccessfully, project.Services["worker"].DependsOn["temporal-namespace"].Condition)
	require.Equal(t, types.ServiceConditionCompletedSuccessfully, project.Services["worker"].DependsOn["kafka-init"].Condition)
	require.Equal(t, types.ServiceConditionCompletedSuccessfully, project.Services["streaming"].DependsOn["cassandra-init"].Condition)
	require.Equal(t, types.ServiceConditionHealthy, project.Services["cassandra-init"].DependsOn["cassandra"].Condition)
	for _, name := range []string{"postgresql", "temporal", "kafka", "cassandra"} {
		require.NotNil(t, project.Services[name].HealthCheck, "%s has a healthcheck", name)
	}
}

// Prometheus scrapes both workers where they serve /metrics, Grafana reads it and
// loads the dashboard, and both publish their ports on the loopback only.
func TestComposeMonitoring(t *testing.T) {
	project := loadCompose(t)
	for _, name := range []string{"prometheus", "grafana"} {
		for _, p := range project.Services[name].Ports {
			require.Equal(t, "127.0.0.1", p.HostIP, "%s publishes port %s on the loopback only", name, p.Published)
		}
	}

	var prom struct {
		ScrapeConfigs []struct {
			StaticConfigs []struct {
				Targets []string `yaml:"targets"`
			} `yaml:"static_configs"`
		} `yaml:"scrape_configs"`
	}
	readYAML(t, mountedFile(t, project.Services["prometheus"], "/etc/prometheus/prometheus.yml"), &prom)
	var targets []string
	for _, sc := range prom.ScrapeConfigs {
		for _, st := range sc.StaticConfigs {
			targets = append(targets, st.Targets...)
		}
	}
	require.ElementsMatch(t, []string{
		scrapeTarget(t, project, "worker", "WORKER_METRICS_ADDR"),
		scrapeTarget(t, project, "streaming", "STREAMING_METRICS_ADDR"),
	}, targets, "Prometheus scrapes both workers where they serve /metrics")

	grafana := project.Services["grafana"]
	provisioning := mountedFile(t, grafana, "/etc/grafana/provisioning")
	var sources struct {
		Datasources []struct {
			Type string `yaml:"type"`
			URL  string `yaml:"url"`
		} `yaml:"datasources"`
	}
	readYAML(t, filepath.Join(provisioning, "datasources", "prometheus.yml"), &sources)
	require.Len(t, sources.Datasources, 1)
	require.Equal(t, "prometheus", sources.Datasources[0].Type)
	require.Equal(t, "http://prometheus:9090", sources.Datasources[0].URL, "the prometheus service")
	var dashboards struct {
		Providers []struct {
			Options struct {
				Path string `yaml:"path"`
			} `yaml:"options"`
		} `yaml:"providers"`
	}
	readYAML(t, filepath.Join(provisioning, "dashboards", "streampipe.yml"), &dashboards)
	require.Len(t, dashboards.Providers, 1)
	require.FileExists(t, filepath.Join(mountedFile(t, grafana, dashboards.Providers[0].Options.Path), "streampipe.json"),
		"Grafana loads the dashboard from where it is mounted")
}

// scrapeTarget is where Prometheus reaches the /metrics of service, which serves them
// on the address of its variable addrVar: on every interface of its container, else
// only the container itself could scrape them.
func scrapeTarget(t *testing.T, project *types.Project, service, addrVar string) string {
	t.Helper()
	addr := deref(project.Services[service].Environment[addrVar])
	host, port, err := net.SplitHostPort(addr)
	require.NoError(t, err, "%s %s=%s", service, addrVar, addr)
	require.Contains(t, []string{"", "0.0.0.0", "::"}, host, "%s %s=%s listens on every interface of its container", service, addrVar, addr)
	return net.JoinHostPort(service, port)
}

// mountedFile is the file or folder of the project that svc mounts at target.
func mountedFile(t *testing.T, svc types.ServiceConfig, target string) string {
	t.Helper()
	for _, v := range svc.Volumes {
		if v.Target == target && v.Type == types.VolumeTypeBind {
			wd, err := os.Getwd() // the project's folder: compose made the source absolute from it
			require.NoError(t, err)
			rel, err := filepath.Rel(wd, v.Source)
			require.NoError(t, err)
			require.False(t, strings.HasPrefix(rel, ".."), "%s mounts %s, outside the project", svc.Name, v.Source)
			require.True(t, v.ReadOnly, "%s mounts %s read-only", svc.Name, target)
			return rel
		}
	}
	t.Fatalf("%s mounts nothing of the project at %s", svc.Name, target)
	return ""
}

func readYAML(t *testing.T, path string, into any) {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	require.NoError(t, yaml.Unmarshal(b, into), path)
}

func TestComposeProgramsMatchTheBuild(t *testing.T) {
	project := loadCompose(t)
	built := map[string]bool{}
	for _, p := range programs(t) {
		built[filepath.Base(p)] = true
	}

	dockerfile, err := os.ReadFile("Dockerfile")
	require.NoError(t, err)
	for _, p := range programs(t) {
		require.Contains(t, string(dockerfile), " ./"+p, "the Dockerfile builds %s like `make build`", p)
	}
	require.Regexp(t, `(?m)^USER nonroot`, string(dockerfile), "the image runs as a non-root user")
	require.Regexp(t, `(?m)^ENV GOTOOLCHAIN=auto$`, string(dockerfile), "the image builds with go.mod's toolchain")
	gomod, err := os.ReadFile("go.mod")
	require.NoError(t, err)
	require.Regexp(t, `(?m)^toolchain go1\.\d+\.\d+$`, string(gomod), "go.mod names a patched Go release")
	require.Contains(t, string(dockerfile), "CGO_ENABLED=0", "the binaries are static")

	for name, program := range map[string]string{"worker": "worker", "streaming": "streaming"} {
		svc := project.Services[name]
		require.NotNil(t, svc.Build, "%s is built from the Dockerfile", name)
		require.Equal(t, []string{program}, []string(svc.Command), name)
		require.True(t, built[program], "make build builds %s", program)
	}
	require.Equal(t, []string{"starter"}, []string(project.Services["starter"].Entrypoint))
	require.True(t, built["starter"])
}

func TestComposeEnvironment(t *testing.T) {
	project := loadCompose(t)
	tests := []struct {
		service string
		sources []string // where the program reads its environment
		design  map[string]string
		hosts   map[string]string // address variables and the compose service they name
	}{
		{
			service: "worker",
			sources: []string{"worker", "internal/config", "internal/kafkasec", "datasets"},
			design: map[string]string{
				"TEMPORAL_NAMESPACE": "default", "KAFKA_TOPIC": "users_created",
				"RANDOMUSER_URL": "https://randomuser.me/api/",
			},
			hosts: map[string]string{"TEMPORAL_ADDRESS": "temporal", "KAFKA_BROKERS": "kafka"},
		},
		{
			service: "streaming",
			sources: []string{"streaming/cmd/streaming", "datasets", "internal/kafkasec", "internal/envvar"},
			design: map[string]string{
				"KAFKA_TOPIC": "users_created", "KAFKA_DLQ_TOPIC": "users_created.dlq",
				"CASSANDRA_KEYSPACE": "spark_streaming", "CASSANDRA_TABLE": "created_users",
				"CASSANDRA_USERNAME": "streampipe", "CASSANDRA_PASSWORD": passwords["CASSANDRA_PASSWORD"],
			},
			hosts: map[string]string{"KAFKA_BROKERS": "kafka", "CASSANDRA_HOSTS": "cassandra"},
		},
		{
			service: "starter",
			sources: []string{"starter", "internal/config"},
			design:  map[string]string{"TEMPORAL_NAMESPACE": "default"},
			hosts:   map[string]string{"TEMPORAL_ADDRESS": "temporal"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.service, func(t *testing.T) {
			env := project.Services[tt.service].Environment
			for k, want := range tt.design {
				require.Contains(t, env, k)
				require.Equal(t, want, deref(env[k]), "%s defaults to the documented value", k)
			}
			for k, host := range tt.hosts {
				require.Contains(t, env, k)
				require.True(t, strings.HasPrefix(deref(env[k]), host+":"), "%s=%s names service %s", k, deref(env[k]), host)
				require.Contains(t, project.ServiceNames(), host)
			}
			source := readGoSources(t, tt.sources...)
			for k := range env {
				require.Contains(t, source, `"`+k+`"`, "%s sets %s, which its program never reads", tt.service, k)
			}
		})
	}
}

// Every port is published on the host's loopback only: Docker's port rules bypass
// the host's firewall, so a port published on every interface is open to the network.
func TestComposePublishesOnLoopbackOnly(t *testing.T) {
	project := loadCompose(t)
	published := 0
	for name, svc := range project.Services {
		for _, p := range svc.Ports {
			assert.Equal(t, "127.0.0.1", p.HostIP, "service %s publishes port %s beyond the host's loopback", name, p.Published)
			published++
		}
	}
	assert.Equal(t, 9, published, "Temporal, its UI, Kafka, Kafka UI, Cassandra, both metrics ports, Prometheus and Grafana")
}

// No password has a default: without one, compose refuses to start and says how to
// set it. Read from the file as written, before interpolation.
func TestComposeNoPasswordHasADefault(t *testing.T) {
	raw, err := os.ReadFile("docker-compose.yml")
	require.NoError(t, err)
	var doc yaml.Node
	require.NoError(t, yaml.Unmarshal(raw, &doc))
	secret := regexp.MustCompile(`(?i)(PASSWORD|PASSWD|PWD|SECRET|TOKEN|API_KEY)`)
	reference := regexp.MustCompile(`\$\{([A-Za-z0-9_]+)(:?[-?+])?`)
	required := map[string]bool{}
	var walk func(key string, n *yaml.Node)
	walk = func(key string, n *yaml.Node) {
		switch n.Kind {
		case yaml.ScalarNode:
			for _, m := range reference.FindAllStringSubmatch(n.Value, -1) {
				if !secret.MatchString(m[1]) {
					continue
				}
				require.Contains(t, []string{":?"}, m[2], "${%s%s…}: a password is required, never defaulted (line %d)", m[1], m[2], n.Line)
				required[m[1]] = true
			}
			if secret.MatchString(key) && !strings.Contains(n.Value, "${") {
				t.Errorf("%s: %q is a literal (line %d); take it from a required variable", key, n.Value, n.Line)
			}
		case yaml.MappingNode:
			for i := 0; i+1 < len(n.Content); i += 2 {
				walk(n.Content[i].Value, n.Content[i+1])
			}
		default:
			for _, c := range n.Content {
				walk(key, c)
			}
		}
	}
	walk("", &doc)
	require.ElementsMatch(t, slices.Collect(maps.Keys(passwords)), slices.Collect(maps.Keys(required)))

	for name := range passwords {
		env := maps.Clone(passwords)
		delete(env, name)
		_, err := tryLoadCompose(env)
		require.Error(t, err, "compose starts without %s", name)
		assert.Contains(t, err.Error(), "required variable "+name+" is missing a value: set "+name+
			" in .env (git-ignored) or the environment; README.md, With Docker, says how")
	}
}

// Kafka and Cassandra ask for logins, and the programs give theirs.
func TestComposeServersAskForLogins(t *testing.T) {
	project := loadCompose(t)
	kafka := project.Services["kafka"].Environment
	assert.Equal(t, "INTERNAL:SASL_PLAINTEXT,CONTROLLER:PLAINTEXT,HOST:SASL_PLAINTEXT", deref(kafka["KAFKA_LISTENER_SECURITY_PROTOCOL_MAP"]))
	assert.Contains(t, deref(kafka["KAFKA_LISTENERS"]), "CONTROLLER://localhost:9093", "the controller listens inside its container only")
	for _, listener := range []string{"INTERNAL", "HOST"} {
		assert.Contains(t, deref(kafka["KAFKA_LISTENER_NAME_"+listener+"_PLAIN_SASL_JAAS_CONFIG"]),
			`user_streampipe="`+passwords["KAFKA_SASL_PASSWORD"]+`"`, listener)
	}
	for _, name := range []string{"worker", "streaming"} {
		env := project.Services[name].Environment
		assert.Equal(t, "PLAIN", deref(env["KAFKA_SASL_MECHANISM"]), name)
		assert.Equal(t, "streampipe", deref(env["KAFKA_SASL_USERNAME"]), name)
		assert.Equal(t, passwords["KAFKA_SASL_PASSWORD"], deref(env["KAFKA_SASL_PASSWORD"]), name)
	}
	cassandra := strings.Join(project.Services["cassandra"].Command, " ")
	assert.Contains(t, cassandra, "authenticator:PasswordAuthenticator")
	assert.Contains(t, cassandra, "exec docker-entrypoint.sh cassandra -f")
	initCQL := strings.Join(project.Services["cassandra-init"].Command, " ")
	assert.Contains(t, initCQL, `ALTER ROLE cassandra WITH SUPERUSER = false AND LOGIN = false;`, "the built-in superuser is retired")
	assert.Contains(t, initCQL, `WITH SUPERUSER = false AND PASSWORD`, "the pipeline's role is no superuser")
	assert.Contains(t, initCQL, `ON KEYSPACE $ks TO`, "its grants are on the datasets' keyspaces")
	assert.NotContains(t, initCQL, "GRANT $p ON ALL KEYSPACES")
	assert.NotContains(t, initCQL, " -p ", "no password as an argument")
	assert.Equal(t, "spark_streaming my_keyspace finance", deref(project.Services["cassandra-init"].Environment["KEYSPACES"]))
	assert.Equal(t, "true", deref(project.Services["kafka-ui"].Environment["KAFKA_CLUSTERS_0_READONLY"]), "Kafka UI is read-only")
}

// .env holds the stack's passwords: it stays out of the image's build context.
func TestDockerignoreKeepsEnvOut(t *testing.T) {
	raw, err := os.ReadFile(".dockerignore")
	require.NoError(t, err)
	assert.Contains(t, strings.Fields(string(raw)), ".env")
}

// The Kafka tools of the kafka and kafka-init services get the SASL login from the
// kafka-client script: run here with sh and a stand-in for the tool.
func TestComposeKafkaClientScript(t *testing.T) {
	project := loadCompose(t)
	script := filepath.Join(t.TempDir(), "kafka-client")
	require.NoError(t, os.WriteFile(script, []byte(project.Configs["kafka-client"].Content), 0o600))
	copied := filepath.Join(t.TempDir(), "props")
	cmd := exec.Command("sh", script, "sh", "-c", `test "$2" = --command-config && cp "$3" "$1"`, "tool", copied)
	cmd.Env = append(os.Environ(), "CLIENT_SASL_USERNAME=streampipe", `CLIENT_SASL_PASSWORD=pa $1 ss`)
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s", out)
	props, err := os.ReadFile(copied)
	require.NoError(t, err)
	assert.Equal(t, "security.protocol=SASL_PLAINTEXT\nsasl.mechanism=PLAIN\n"+
		`sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required username="streampipe" password="pa $1 ss";`+"\n",
		string(props))
	for _, name := range []string{"kafka", "kafka-init"} {
		require.Len(t, project.Services[name].Configs, 1, name)
		assert.Equal(t, "kafka-client", project.Services[name].Configs[0].Source, name)
	}
}

func readGoSources(t *testing.T, dirs ...string) string {
	t.Helper()
	var b strings.Builder
	for _, dir := range dirs {
		files, err := filepath.Glob(filepath.Join(dir, "*.go"))
		require.NoError(t, err)
		require.NotEmpty(t, files, dir)
		for _, f := range files {
			if strings.HasSuffix(f, "_test.go") {
				continue
			}
			data, err := os.ReadFile(f)
			require.NoError(t, err)
			b.Write(data)
		}
	}
	return b.String()
}

func mustPort(t *testing.T, s string) uint32 {
	t.Helper()
	p, err := strconv.ParseUint(s, 10, 16)
	require.NoError(t, err)
	return uint32(p)
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
