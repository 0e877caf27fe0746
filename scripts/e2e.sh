#!/usr/bin/env bash
# End-to-end tests on the local stack, as a user goes: `make run` for a 10-second run
# of 5 users a tick must end with exactly its 50 users as rows in Cassandra (counted
# with cqlsh by the run's ids); every command of the README's sh blocks must succeed;
# then, in a real browser, the Temporal Web UI unpauses schedule user-automation and a
# triggered run shows its progress and completes. Run by `make test`.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
STACK_DIR=${STREAMPIPE_STACK_DIR:-$PWD/.stack}

echo "==> end to end: DURATION=10s USERS=5 make run"
# tee through cat: tee /dev/stderr would reopen, and so truncate, a log file on stderr
out=$(DURATION=10s INTERVAL=1s USERS=5 scripts/run.sh 2>&1 | tee >(cat >&2))
if ! grep -q "^Rows in Cassandra for this run: 50 of 50 users published.$" <<<"$out"; then
  echo "e2e: make run did not end with the run's 50 rows in Cassandra" >&2
  exit 1
fi

echo "==> end to end: the commands of README.md (its sh blocks, in order)"
export PATH=$STACK_DIR/bin:$PATH # temporal and cqlsh, as the README says
while IFS= read -r line; do
  echo "\$ $line"
  bash -c "$line" </dev/null || { echo "e2e: this README command failed: $line" >&2; exit 1; }
done < <(awk '/^ *```sh$/ {on = 1; next} /^ *```$/ {on = 0} on {sub(/^ +/, ""); print}' README.md)

echo "==> end to end: the Web UI path in Chromium"
# The schedule as the worker creates it (paused), with short runs for the test.
bin/starter schedule delete >/dev/null 2>&1 || true
bin/starter schedule create -duration 10s -users-per-tick 2
restore() { # leave the schedule as the worker makes it: paused, default runs
  bin/starter schedule delete >/dev/null 2>&1 || true
  bin/starter schedule create >/dev/null
}
trap restore EXIT
mkdir -p "$STACK_DIR/logs/screenshots"
NODE_PATH=$(stack/stack.sh tool playwright) \
  CHROMIUM=$(stack/stack.sh tool chromium) \
  TEMPORAL_BIN=$(stack/stack.sh tool temporal) \
  SCREENSHOTS=$STACK_DIR/logs/screenshots \
  node --test --test-reporter=spec e2e/
