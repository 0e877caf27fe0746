#!/usr/bin/env bash
# scripts/cluster.sh COMMAND...: runs COMMAND against the local stack's clusters of
# three (STACK_NODES=3: three Kafka brokers and three Cassandra nodes on 127.0.0.1-3)
# of a stack of its own, on ports apart from the one-node stack's so that both can
# run at once. It starts (or reuses) the servers CLUSTER_SERVICES names (default
# temporal kafka cassandra), exports the clients' settings (cluster.env and
# TEMPORAL_ADDRESS), runs COMMAND, and stops what it started. make test-cluster and
# make bench-cluster run through it: they share the clusters' folder and ports.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

export STACK_NODES=3 STREAMPIPE_STACK_DIR=${STREAMPIPE_CLUSTER_DIR:-$PWD/.stack-cluster}
export STACK_TEMPORAL_PORT=27233 STACK_TEMPORAL_UI_PORT=27280 STACK_KAFKA_PORT=29092 \
  STACK_KAFKA_CONTROLLER_PORT=29093 STACK_CASSANDRA_PORT=29042 STACK_CASSANDRA_STORAGE_PORT=27000
export TEMPORAL_ADDRESS=127.0.0.1:$STACK_TEMPORAL_PORT
read -ra services <<<"${CLUSTER_SERVICES:-temporal kafka cassandra}"

started=()
for svc in "${services[@]}"; do
  stack/stack.sh running "$svc" || started+=("$svc")
done
stop_started() {
  if ((${#started[@]} > 0)); then
    echo "==> stopping what was started: ${started[*]}"
    stack/stack.sh down "${started[@]}"
  fi
}
trap stop_started EXIT

echo "==> the clusters ($STREAMPIPE_STACK_DIR): ${services[*]}"
stack/stack.sh up "${services[@]}"
set -a
# shellcheck source=/dev/null
source "$STREAMPIPE_STACK_DIR/cluster.env"
set +a

echo "==> $*"
"$@"
