package temporaldial

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/streampipe/streampipe/internal/config"
	"github.com/streampipe/streampipe/internal/stacktest"
	"github.com/streampipe/streampipe/internal/temporaltest"
	"github.com/streampipe/streampipe/internal/testcerts"
)

func load(t *testing.T, env map[string]string) config.Producer {
	t.Helper()
	cfg, err := config.LoadStarter(func(n string) (string, bool) { v, ok := env[n]; return v, ok })
	require.NoError(t, err)
	return cfg
}

func TestExperiment(t *testing.T) {
	stacktest.Needs(t, stacktest.NeedsTemporal)
	f := temporaltest.SecureFront(t)
	other := testcerts.NewCA(t, "other")
	cases := map[string]func(map[string]string){
		"good":      func(map[string]string) {},
		"wrong key": func(e map[string]string) { e["TEMPORAL_API_KEY"] = "nope" },
		"no key":    func(e map[string]string) { delete(e, "TEMPORAL_API_KEY"); e["TEMPORAL_TLS"] = "true" },
		"wrong CA":  func(e map[string]string) { e["TEMPORAL_TLS_SERVER_CA_CERT_PATH"] = other.CertFile },
		"other client CA": func(e map[string]string) {
			p := other.Client("x")
			e["TEMPORAL_TLS_CLIENT_CERT_PATH"], e["TEMPORAL_TLS_CLIENT_KEY_PATH"] = p.CertFile, p.KeyFile
		},
		"no client cert": func(e map[string]string) {
			delete(e, "TEMPORAL_TLS_CLIENT_CERT_PATH")
			delete(e, "TEMPORAL_TLS_CLIENT_KEY_PATH")
		},
		"plaintext": func(e map[string]string) { e["TEMPORAL_TLS"] = "false" },
	}
	for name, mod := range cases {
		env := f.Env()
		mod(env)
		cfg := load(t, env)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		start := time.Now()
		c, err := Dial(ctx, cfg, nil)
		cancel()
		t.Logf("%s (%s): %v", name, time.Since(start), err)
		if c != nil {
			c.Close()
		}
	}
	// expired: bypass the config check
	env := f.Env()
	cfg := load(t, env)
	p := f.CA.ExpiredClient("old")
	cfg.TemporalOptions.ConnectionOptions.TLS.Certificates[0] = p.TLS
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	start := time.Now()
	_, err := Dial(ctx, cfg, nil)
	t.Logf("expired (%s): %v", time.Since(start), err)
}
