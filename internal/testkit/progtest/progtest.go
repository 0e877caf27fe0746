// Package progtest builds the project's programs for tests that run them as their
// users do: as processes.
package progtest

import (
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
)

// packages are the project's programs, by the name of their executable.
var packages = map[string]string{
	"worker":    "github.com/streampipe/streampipe/worker",
	"starter":   "github.com/streampipe/streampipe/starter",
	"streaming": "github.com/streampipe/streampipe/streaming/cmd/streaming",
}

var (
	mu    sync.Mutex
	dir   string              // the folder of the executables, made on the first build
	built = map[string]bool{} // by name
)

// Program returns the executable of the project's program name (worker, starter or
// streaming), built from this checkout on the first call of the test binary. A test
// binary that calls Program has TestMain call Main, which removes the executables.
func Program(t testing.TB, name string) string {
	t.Helper()
	pkg, ok := packages[name]
	if !ok {
		t.Fatalf("progtest: no program %q (worker, starter or streaming)", name)
	}
	mu.Lock()
	defer mu.Unlock()
	if dir == "" {
		var err error
		if dir, err = os.MkdirTemp("", "progtest-"); err != nil {
			t.Fatal(err)
		}
	}
	bin := filepath.Join(dir, name)
	if !built[name] {
		if out, err := exec.Command("go", "build", "-o", bin, pkg).CombinedOutput(); err != nil {
			t.Fatalf("go build %s: %v\n%s", pkg, err, out)
		}
		built[name] = true
	}
	return bin
}

// Main runs the tests and benchmarks of m, removes the executables Program built,
// and exits: TestMain(m) of a package whose tests call Program.
func Main(m *testing.M) {
	code := m.Run()
	mu.Lock()
	if dir != "" {
		_ = os.RemoveAll(dir)
	}
	mu.Unlock()
	os.Exit(code)
}
