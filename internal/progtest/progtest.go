// Package progtest builds the project's programs for tests that run them as their
// users do: as processes.
package progtest

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
)

var (
	mu    sync.Mutex
	dir   string                // the folder of every program built, made on the first Build
	built = map[string]string{} // package → its executable
)

// Build returns the executable of the program of package pkg, as go build names it
// from the test's folder (".", "./cmd/streaming", "../../worker"), building it on the
// first call of the test binary. The executable is named after the package's folder.
// A test binary that calls Build has TestMain call Main, which removes them.
func Build(t testing.TB, pkg string) string {
	t.Helper()
	mu.Lock()
	defer mu.Unlock()
	if bin, ok := built[pkg]; ok {
		return bin
	}
	abs, err := filepath.Abs(pkg)
	if err != nil {
		t.Fatal(err)
	}
	if dir == "" {
		if dir, err = os.MkdirTemp("", "progtest-"); err != nil {
			t.Fatal(err)
		}
	}
	// A folder each: two packages may have folders of the same name.
	bin := filepath.Join(dir, strconv.Itoa(len(built)), filepath.Base(abs))
	if err := os.Mkdir(filepath.Dir(bin), 0o755); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("go", "build", "-o", bin, pkg).CombinedOutput(); err != nil {
		t.Fatalf("go build %s: %v\n%s", pkg, err, out)
	}
	built[pkg] = bin
	return bin
}

// Main runs the tests and benchmarks of m, removes the executables Build built, and
// exits: TestMain(m) of a package whose tests call Build.
func Main(m *testing.M) {
	code := m.Run()
	mu.Lock()
	if dir != "" {
		_ = os.RemoveAll(dir)
	}
	mu.Unlock()
	os.Exit(code)
}
