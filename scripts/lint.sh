#!/usr/bin/env bash
# make lint: gofmt, go vet, staticcheck, and workflowcheck on the workflow code.
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
go vet ./...

echo "==> staticcheck"
"$(stack/stack.sh tool staticcheck)" ./...

if [[ -d workflows ]]; then
  echo "==> workflowcheck"
  "$(stack/stack.sh tool workflowcheck)" ./workflows/...
fi
