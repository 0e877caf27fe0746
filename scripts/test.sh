#!/usr/bin/env bash
# make test: the one test command. Lints; starts the local stack if it is not running;
# and runs, side by side, four lanes that share no server:
#   - every unit and integration test with the race detector against the local stack;
#   - the end-to-end tests on the same stack: the README's commands in order, among them
#     the default two-minute make run, then the Web UI in a browser;
#   - on servers of their own, on other ports: the fault matrix on clusters of three
#     (make test-cluster), then the secured end to end (STACK_SECURE=1 make run, and no
#     secret where it must never be);
#   - on a stack of its own, the stack switching sizes 1 -> 3 -> 1 -> 3 nodes, a make run
#     on each (scripts/e2e-switch.sh).
# Most of the end-to-end and fault tests wait on real time (a run ticks once a second),
# so the lanes share the two cores of a small machine well. The output of the three
# background lanes follows at the end, each with its time. make test stops the
# services it started, and only those: a stack and workers left by `make run` keep
# running.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
start=$SECONDS
STACK_DIR=${STREAMPIPE_STACK_DIR:-$PWD/.stack}
logs=$STACK_DIR/logs
mkdir -p "$logs"

started=()
for svc in temporal kafka cassandra worker streaming; do
  stack/stack.sh running "$svc" || started+=("$svc")
done

# lane NAME SCRIPT... runs the scripts one after another in the background, in a
# process group of their own, the output to $logs/make-test-NAME.log.
declare -A lane_pid lane_log
lane() {
  local name=$1
  shift
  lane_log[$name]=$logs/make-test-$name.log
  setsid bash -c 'set -euo pipefail; begun=$SECONDS; for c in "$@"; do "$c"; done; echo "==> lane passed in $((SECONDS - begun)) s"' \
    lane "$@" >"${lane_log[$name]}" 2>&1 &
  lane_pid[$name]=$!
  echo "==> started the $name lane (pid $!); its output: ${lane_log[$name]}"
}
# finish_lane NAME waits for a lane and prints its output.
finish_lane() {
  local name=$1 status=0
  wait "${lane_pid[$name]}" || status=$?
  unset "lane_pid[$name]"
  echo "==> the $name lane's output (${lane_log[$name]}):"
  sed 's/^/    /' "${lane_log[$name]}"
  if ((status != 0)); then
    echo "==> the $name lane FAILED (exit $status)" >&2
    return 1
  fi
}
cleanup() {
  local name
  for name in "${!lane_pid[@]}"; do # a lane still running when make test stops early
    kill -TERM -- "-${lane_pid[$name]}" 2>/dev/null || true
    wait "${lane_pid[$name]}" 2>/dev/null || true
  done
  if ((${#started[@]} > 0)); then
    echo "==> stopping what make test started: ${started[*]}"
    stack/stack.sh down "${started[@]}"
  fi
}
trap cleanup EXIT

echo "==> building the programs"
make -s build # once, before the lanes: each make run rebuilds, and finds them up to date
lane other-servers scripts/test-cluster.sh scripts/e2e-secure.sh
lane switch scripts/e2e-switch.sh

lint_start=$SECONDS
scripts/lint.sh
echo "==> lint passed in $((SECONDS - lint_start)) s"

echo "==> local stack"
stack/stack.sh up
lane e2e scripts/e2e.sh

echo "==> go test -race"
failed=0 go_start=$SECONDS
if go test -race -count=1 -timeout 30m ./...; then
  echo "==> go test passed in $((SECONDS - go_start)) s"
else
  echo "==> go test FAILED after $((SECONDS - go_start)) s" >&2
  failed=1
fi
finish_lane e2e || failed=1
finish_lane other-servers || failed=1
finish_lane switch || failed=1
((failed == 0)) || { echo "==> make test FAILED after $((SECONDS - start)) s" >&2; exit 1; }
echo "==> make test passed in $((SECONDS - start)) s"
