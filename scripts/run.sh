#!/usr/bin/env bash
# make run: the pipeline on the local stack. Brings the stack up (or reuses it), builds
# and starts the Temporal worker and the streaming worker, makes sure the dataset's
# schedule exists (paused), starts one UserAutomation run of the dataset now and
# follows it, then has `starter verify` count its records among the rows in
# Cassandra, and says where to look next. The stack and the workers keep running
# afterwards: `make stack-down` stops them. Plumbing only: the programs count and
# decide.
#
#   DATASET    what the run publishes       (default users; registered_users, transactions)
#   DURATION   how long the run publishes   (default 2m)
#   INTERVAL   time between ticks           (default: the dataset's)
#   RECORDS    records per tick             (default: the dataset's; USERS, the old name, too)
#   STACK_SECURE=1  the whole run through TLS and credentials: the secured servers, and the
#                   programs given their client settings from the stack's secure.env
#   STACK_NODES=3   Kafka and Cassandra as clusters of three nodes (stack/stack.sh); the
#                   programs given the clusters' settings from the stack's cluster.env
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

DATASET=${DATASET:-users}
DURATION=${DURATION:-2m}
INTERVAL=${INTERVAL:-}
RECORDS=${RECORDS:-${USERS:-}}
STACK_DIR=${STREAMPIPE_STACK_DIR:-$PWD/.stack}

stack/stack.sh up
if [[ ${STACK_SECURE:-0} == 1 ]]; then # the starter connects as the workers do
  echo "==> the secured stack's client settings: $STACK_DIR/secure.env"
  set -a
  # shellcheck source=/dev/null
  source "$STACK_DIR/secure.env"
  set +a
fi
if [[ -f $STACK_DIR/cluster.env ]]; then # STACK_NODES=3: the starter counts rows on the cluster
  echo "==> the clusters' client settings: $STACK_DIR/cluster.env"
  set -a
  # shellcheck source=/dev/null
  source "$STACK_DIR/cluster.env"
  set +a
fi
echo "==> building the programs"
make -s build
stack/stack.sh up worker streaming

echo "==> the $DATASET schedule"
bin/starter schedule create -dataset "$DATASET"

echo "==> one $DATASET run now"
ids=$STACK_DIR/run/last-run.ids
result=$STACK_DIR/run/last-run.json
rm -f "$ids"
args=(-dataset "$DATASET" -duration "$DURATION" -ids-file "$ids")
if [[ -n $INTERVAL ]]; then args+=(-interval "$INTERVAL"); fi
if [[ -n $RECORDS ]]; then args+=(-records-per-tick "$RECORDS"); fi
status=0
bin/starter run "${args[@]}" | tee "$result" || status=$?
if ((status == 130)); then
  echo "The run goes on in the worker, and its records still reach Cassandra; 'make stack-down' stops everything."
  exit 130
fi
((status == 0)) || exit "$status"

# The streaming worker writes the run's last records within a micro-batch or two:
# verify waits up to a minute for them and prints how many are rows.
echo
status=0
bin/starter verify -dataset "$DATASET" -ids-file "$ids" -timeout 60s || status=$?

cat <<EOF

Where to look next:
  Temporal Web UI       http://localhost:8233  (schedules: http://localhost:8233/namespaces/default/schedules)
  rows (cqlsh)          make cqlsh
  the topic's messages  stack/stack.sh kafka-console-consumer --topic <the result's topic> --from-beginning
  metrics               http://127.0.0.1:9101/metrics (worker), http://127.0.0.1:9102/metrics (streaming)
  logs                  $STACK_DIR/logs/
The stack and both workers keep running: unpause the schedule in the Web UI for a daily
run, 'make run' again for another run now, 'make stack-down' to stop everything.
EOF
exit "$status"
