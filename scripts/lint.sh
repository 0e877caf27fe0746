#!/usr/bin/env bash
# make lint: gofmt, go vet, staticcheck, workflowcheck on the workflow code, and
# govulncheck against the vulnerability database scripts/vulndb.sh builds from the Go
# module proxy (docs/local-stack.md, Known vulnerabilities).
# `scripts/lint.sh fast` (make check) stops before govulncheck, which needs that database.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

echo "==> gofmt"
unformatted=$(gofmt -l $(git ls-files --cached --others --exclude-standard '*.go'))
if [[ -n $unformatted ]]; then
  echo "gofmt would change these files (run 'gofmt -w' on them):" >&2
  echo "$unformatted" >&2
  exit 1
fi

echo "==> go vet"
go vet -tags cluster ./... # cluster: the fault matrix (make test-cluster) too

echo "==> staticcheck"
"$(stack/stack.sh tool staticcheck)" -tags cluster ./...

if [[ -d workflows ]]; then
  echo "==> workflowcheck"
  "$(stack/stack.sh tool workflowcheck)" ./workflows/...
fi

if [[ ${1:-} == fast ]]; then
  exit 0
fi

# The standard library's findings are those of the go that runs: `make` runs go.mod's
# toolchain (GOTOOLCHAIN=auto).
echo "==> govulncheck ($(go env GOVERSION))"
"$(stack/stack.sh tool govulncheck)" -db "file://$(scripts/vulndb.sh)" ./...
