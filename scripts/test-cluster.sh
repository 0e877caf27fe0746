#!/usr/bin/env bash
# make test-cluster: the fault matrix on clusters of three. Starts (or reuses) a stack
# of its own with STACK_NODES=3 — three Kafka brokers and three Cassandra nodes on
# 127.0.0.1-3, Temporal beside them — on ports apart from the one-node stack's, so both
# can run at once; runs internal/faults (the real worker and streaming worker under
# load, a server faulted mid-run, every record counted by id); and stops what it
# started.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
start=$SECONDS

export STACK_NODES=3 STREAMPIPE_STACK_DIR=${STREAMPIPE_CLUSTER_DIR:-$PWD/.stack-cluster}
export STACK_TEMPORAL_PORT=27233 STACK_TEMPORAL_UI_PORT=27280 STACK_KAFKA_PORT=29092 \
  STACK_KAFKA_CONTROLLER_PORT=29093 STACK_CASSANDRA_PORT=29042 STACK_CASSANDRA_STORAGE_PORT=27000
export TEMPORAL_ADDRESS=127.0.0.1:$STACK_TEMPORAL_PORT

started=()
for svc in temporal kafka cassandra; do
  stack/stack.sh running "$svc" || started+=("$svc")
done
stop_started() {
  if ((${#started[@]} > 0)); then
    echo "==> stopping what make test-cluster started: ${started[*]}"
    stack/stack.sh down "${started[@]}"
  fi
}
trap stop_started EXIT

echo "==> the clusters ($STREAMPIPE_STACK_DIR)"
stack/stack.sh up
while IFS= read -r setting; do export "$setting"; done <"$STREAMPIPE_STACK_DIR/cluster.env"

echo "==> go test -tags cluster ./internal/faults"
go test -race -count=1 -tags cluster -timeout 40m -v ./internal/faults/

echo "==> make test-cluster passed in $((SECONDS - start)) s"
