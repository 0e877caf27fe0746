#!/usr/bin/env bash
# make test: the one test command. Lints, starts the local stack if it is not running,
# runs every unit and integration test with the race detector against the real
# services, then the end-to-end tests (the README's commands in order, among them the
# default two-minute make run, and the Web UI in a browser), the secured end to end on
# a stack of its own (STACK_SECURE=1 make run, and no secret where it must never be),
# and stops the services it started — only those: a stack and workers left by
# `make run` keep running.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
start=$SECONDS

scripts/lint.sh

started=()
for svc in temporal kafka cassandra worker streaming; do
  stack/stack.sh running "$svc" || started+=("$svc")
done
stop_started() {
  if ((${#started[@]} > 0)); then
    echo "==> stopping what make test started: ${started[*]}"
    stack/stack.sh down "${started[@]}"
  fi
}
trap stop_started EXIT

echo "==> local stack"
stack/stack.sh up

echo "==> go test -race"
# The streaming package stops Cassandra for a while (its outage test): it runs on its
# own, after every other package.
go test -race -count=1 -timeout 30m $(go list ./... | grep -v /streaming)
go test -race -count=1 -timeout 30m ./streaming/...

scripts/e2e.sh
scripts/e2e-secure.sh

echo "==> make test passed in $((SECONDS - start)) s"
