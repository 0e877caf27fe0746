#!/usr/bin/env bash
# The stack switching sizes, run once by make test: a local stack of its own (its own
# folder and ports) goes 1 -> 3 -> 1 -> 3 nodes as a user switches it (`make run`,
# `make stack-down`, `STACK_NODES=3 make run`, ...), and every `make run` (users, 10 s)
# must end with every record of its run a row. Each size keeps its own data, so each
# start finds its size's topics, offsets and tables as it left them. On the clusters,
# sh must read cluster.env as it is.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

dir=$(mktemp -d "${TMPDIR:-/tmp}/streampipe-switch.XXXXXX")
export STREAMPIPE_STACK_DIR=$dir
export STACK_TEMPORAL_PORT=47233 STACK_TEMPORAL_UI_PORT=47280
export STACK_KAFKA_PORT=49092 STACK_KAFKA_CONTROLLER_PORT=49093
export STACK_CASSANDRA_PORT=49042 STACK_CASSANDRA_STORAGE_PORT=47000
export STACK_WORKER_PORT=49101 STACK_STREAMING_PORT=49102
# The one-node stack's clients, on its ports (a cluster's cluster.env takes over).
export TEMPORAL_ADDRESS=127.0.0.1:$STACK_TEMPORAL_PORT KAFKA_BROKERS=127.0.0.1:$STACK_KAFKA_PORT \
  CASSANDRA_HOSTS=127.0.0.1:$STACK_CASSANDRA_PORT
finish() {
  local status=$?
  stack/stack.sh down >/dev/null 2>&1 || true
  if ((status != 0)); then # the servers' errors, and their logs kept
    grep -hE "^(ERROR|FATAL)|Exception" "$dir"/logs/*.log | tail -n 20 >&2 || true
    mv "$dir/logs" "$dir.logs" && echo "e2e-switch: the stack's logs are kept in $dir.logs" >&2
  fi
  rm -rf "$dir"
}
trap finish EXIT

start=$SECONDS
round=0
for nodes in 1 3 1 3; do
  round=$((round + 1))
  begun=$SECONDS
  echo "==> switch $round: STACK_NODES=$nodes make run on a stack of its own ($dir)"
  out=$dir/make-run-$round.out
  STACK_NODES=$nodes DURATION=10s make run >"$out" 2>&1 || { cat "$out"; echo "e2e-switch: make run failed (above)" >&2; exit 1; }
  if ! grep -q "Rows in Cassandra for this run: 10 of 10 users published." "$out"; then
    cat "$out"
    echo "e2e-switch: make run on $nodes node(s) did not end with every record a row (above)" >&2
    exit 1
  fi
  if ((nodes == 3)); then # the clusters' client settings, as sh takes the file
    settings=$(sh -c 'set -a; . "$1"; printf "%s\n" "$KAFKA_BROKERS" "$CASSANDRA_HOSTS" "$CASSANDRA_REPLICATION"' sh "$dir/cluster.env")
    want="127.0.0.1:$STACK_KAFKA_PORT,127.0.0.2:$STACK_KAFKA_PORT,127.0.0.3:$STACK_KAFKA_PORT
127.0.0.1:$STACK_CASSANDRA_PORT,127.0.0.2:$STACK_CASSANDRA_PORT,127.0.0.3:$STACK_CASSANDRA_PORT
{'class': 'NetworkTopologyStrategy', 'datacenter1': 3}"
    [[ $settings == "$want" ]] || { printf 'e2e-switch: sh reads cluster.env as\n%s\nnot\n%s\n' "$settings" "$want" >&2; exit 1; }
  fi
  make stack-down >/dev/null
  echo "    10 of 10 users published are rows, on $nodes node(s); run and stop took $((SECONDS - begun)) s"
done
echo "==> e2e, switching sizes: passed in $((SECONDS - start)) s"
