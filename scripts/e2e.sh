#!/usr/bin/env bash
# End-to-end tests on the local stack, as a user goes: every command of README.md's
# console and sh blocks, in the README's order, must succeed — first of them `make run`
# with its defaults (a two-minute run of 120 ticks, across the workflow's continue-as-new
# at tick 100), which must end with all 120 of its users as rows in Cassandra; every
# `make run` must end with N of N. A few commands are not run, by the rules of skip_reason
# below, and are listed with their reason. Then, in a real browser, the Temporal Web UI
# unpauses schedule user-automation and a triggered run shows its progress and completes.
# Run by `make test`.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
STACK_DIR=${STREAMPIPE_STACK_DIR:-$PWD/.stack}

# skip_reason LINE — prints why the end-to-end test does not run this README line, or
# fails when it runs it.
skip_reason() {
  case $1 in
    "make test"*) echo "it is the command running this test: it would recurse" ;;
    "make check"*) echo "make test runs its checks and tests itself (lint, then every test with -race)" ;;
    "make up"* | "make down"* | "docker "*) echo "Docker commands: no Docker engine here, and the compose stack would take the local stack's ports" ;;
    "make stack-down"*) echo "it stops the stack this test, and whoever shares it, is using (the stack package's tests cover stopping)" ;;
    *) return 1 ;;
  esac
}

# The commands of the README's console and sh blocks, in order, without their indent.
mapfile -t commands < <(awk '/^ *```(sh|console)$/ {on = 1; next} /^ *```$/ {on = 0} on && NF {sub(/^ +/, ""); print}' README.md)
echo "==> end to end: the ${#commands[@]} commands of README.md (its console and sh blocks, in order)"
skipped=()
for line in "${commands[@]}"; do
  if reason=$(skip_reason "$line"); then skipped+=("  $line    <- not run: $reason"); fi
done
if ((${#skipped[@]} > 0)); then
  echo "Not run (${#skipped[@]}):"
  printf '%s\n' "${skipped[@]}"
fi

# The schedules are left as they were found. The README's commands unpause, pause and
# trigger user-automation (a fresh stack has none yet; the worker creates it paused).
make -s build
schedule_was=$(bin/starter schedule describe 2>/dev/null | sed -n 's/^Schedule user-automation: //p') || true
# Other datasets' schedules that `DATASET=… make run` creates are deleted afterwards
# unless they were there before.
absent=()
for ds in registered_users transactions; do
  bin/starter schedule describe -dataset "$ds" >/dev/null 2>&1 || absent+=("$ds")
done
webui_schedule=e2e-webui-$$
restore() {
  bin/starter schedule delete -schedule-id "$webui_schedule" >/dev/null 2>&1 || true
  local ds now
  for ds in "${absent[@]}"; do
    bin/starter schedule delete -dataset "$ds" >/dev/null 2>&1 || true
  done
  now=$(bin/starter schedule describe 2>/dev/null | sed -n 's/^Schedule user-automation: //p') || true
  [[ $now == "$schedule_was" ]] && return
  case $schedule_was in
    active) bin/starter schedule unpause -note "as it was before make test" >/dev/null ;;
    paused) bin/starter schedule pause -note "as it was before make test" >/dev/null ;;
  esac
}
trap restore EXIT

export PATH=$STACK_DIR/bin:$PATH # temporal and cqlsh, as the README says
ran=0
for line in "${commands[@]}"; do
  skip_reason "$line" >/dev/null && continue
  echo "\$ $line"
  ran=$((ran + 1))
  if [[ $line != *"make run"* ]]; then
    bash -c "$line" </dev/null || { echo "e2e: this README command failed: $line" >&2; exit 1; }
    continue
  fi
  # tee through cat: tee /dev/stderr would reopen, and so truncate, a log file on stderr
  out=$(bash -c "$line" </dev/null 2>&1 | tee >(cat >&2)) ||
    { echo "e2e: this README command failed: $line" >&2; exit 1; }
  if ! grep -Eq '^Rows in Cassandra for this run: ([1-9][0-9]*) of \1 ' <<<"$out"; then
    echo "e2e: '$line' did not end with every user of its run as a row in Cassandra (want 'Rows in Cassandra for this run: N of N ...')" >&2
    exit 1
  fi
  if [[ $line == "make run"* ]] && ! grep -Eq '^Rows in Cassandra for this run: 120 of 120 ' <<<"$out"; then
    echo "e2e: the default make run did not end with its 120 users in Cassandra (want 'Rows in Cassandra for this run: 120 of 120 ...')" >&2
    exit 1
  fi
done
echo "==> end to end: ran $ran README commands, ${#skipped[@]} not run (listed above)"

echo "==> end to end: the Web UI path in Chromium"
# A schedule of the test's own, made as the worker makes user-automation (paused),
# with short runs; restore deletes it.
bin/starter schedule create -schedule-id "$webui_schedule" -duration 10s -users-per-tick 2
mkdir -p "$STACK_DIR/logs/screenshots"
TEMPORAL_SCHEDULE_ID=$webui_schedule \
  NODE_PATH=$(stack/stack.sh tool playwright) \
  CHROMIUM=$(stack/stack.sh tool chromium) \
  TEMPORAL_BIN=$(stack/stack.sh tool temporal) \
  SCREENSHOTS=$STACK_DIR/logs/screenshots \
  node --test --test-reporter=spec e2e/
