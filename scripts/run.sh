#!/usr/bin/env bash
# make run: the pipeline on the local stack. Brings the stack up (or reuses it), builds
# and starts the Temporal worker and the streaming worker, makes sure schedule
# user-automation exists (paused), starts one UserAutomation run now and follows it,
# then prints its result, how many of its users are rows in Cassandra, and where to
# look next. The stack and the workers keep running afterwards: `make stack-down`
# stops them.
#
#   DURATION   how long the run publishes   (default 2m)
#   INTERVAL   time between ticks           (default 1s)
#   USERS      users per tick               (default 1)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

DURATION=${DURATION:-2m}
INTERVAL=${INTERVAL:-1s}
USERS=${USERS:-1}
KEYSPACE=${CASSANDRA_KEYSPACE:-spark_streaming}
TABLE=${CASSANDRA_TABLE:-created_users}
TOPIC=${KAFKA_TOPIC:-users_created}
STACK_DIR=${STREAMPIPE_STACK_DIR:-$PWD/.stack}

stack/stack.sh up
echo "==> building the programs"
make -s build
stack/stack.sh up worker streaming

echo "==> schedule user-automation"
bin/starter schedule create

echo "==> one run now: $DURATION at one tick every $INTERVAL, $USERS user(s) a tick"
ids=$STACK_DIR/run/last-run.ids
result=$STACK_DIR/run/last-run.json
rm -f "$ids"
status=0
bin/starter run -duration "$DURATION" -interval "$INTERVAL" -users-per-tick "$USERS" -ids-file "$ids" | tee "$result" ||
  status=$?
if ((status == 130)); then
  echo "The run goes on in the worker, and its users still reach Cassandra; 'make stack-down' stops everything."
  exit 130
fi
((status == 0)) || exit "$status"

# The streaming worker writes the run's last users within a micro-batch or two:
# count the run's ids among the rows until all are there, or 60 s have passed.
cqlsh=$(stack/stack.sh tool cqlsh)
count_rows() {
  local total=0 n chunk
  while read -r chunk; do
    n=$("$cqlsh" -e "SELECT count(*) FROM $KEYSPACE.$TABLE WHERE id IN ($chunk);" 127.0.0.1 9042 |
      awk '/^ *[0-9]+ *$/ {print $1; exit}')
    total=$((total + ${n:-0}))
  done < <(xargs -n 100 <"$ids" | tr ' ' ',')
  echo "$total"
}
expected=$(wc -l <"$ids")
deadline=$((SECONDS + 60))
while rows=$(count_rows) && ((rows < expected && SECONDS < deadline)); do
  sleep 1
done

cat <<EOF

Rows in Cassandra for this run: $rows of $expected users published.

Where to look next:
  Temporal Web UI       http://localhost:8233  (schedule: http://localhost:8233/namespaces/default/schedules/user-automation)
  rows (cqlsh)          make cqlsh, then: SELECT count(*) FROM $KEYSPACE.$TABLE;
  the topic's messages  stack/stack.sh kafka-console-consumer --topic $TOPIC --from-beginning
  metrics               http://127.0.0.1:9101/metrics (worker), http://127.0.0.1:9102/metrics (streaming)
  logs                  $STACK_DIR/logs/
The stack and both workers keep running: unpause the schedule in the Web UI for a daily
run, 'make run' again for another run now, 'make stack-down' to stop everything.
EOF
((rows == expected)) || { echo "make run: only $rows of $expected users reached Cassandra; see $STACK_DIR/logs/streaming.log" >&2; exit 1; }
