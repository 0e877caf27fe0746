#!/usr/bin/env bash
# make test-cluster: the fault matrix on clusters of three (scripts/cluster.sh starts
# or reuses them and stops what it started): internal/systemtest/faults runs the real
# worker and streaming worker under load, faults a server mid-run, and counts every
# record by id.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
start=$SECONDS
scripts/cluster.sh go test -race -count=1 -tags cluster -timeout 40m -v ./internal/systemtest/faults/
echo "==> make test-cluster passed in $((SECONDS - start)) s"
