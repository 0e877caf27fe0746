#!/usr/bin/env bash
# The secured end to end, run once by make test: a second local stack of its own (its
# own folder and ports, beside the stack the other tests use) with STACK_SECURE=1 —
# Temporal behind a front that wants mutual TLS and an API key, Kafka on SASL_SSL with
# SCRAM, Cassandra on TLS only with a password — then `STACK_SECURE=1 make run` as a
# user types it (users, 20 s), which must end with every record of the run a row. Then
# every secret of that stack (the Kafka and Cassandra passwords, the Temporal API key,
# the client's private key) is looked for where it must never be: the programs' logs at
# debug level, the servers' logs, make run's output, the run's result and ids files, both /metrics and
# /healthz, every program's -h, and the run's workflow history.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

dir=$(mktemp -d "${TMPDIR:-/tmp}/streampipe-secure.XXXXXX")
export STREAMPIPE_STACK_DIR=$dir STACK_SECURE=1 LOG_LEVEL=debug
export STACK_TEMPORAL_PORT=17233 STACK_TEMPORAL_UI_PORT=18233 STACK_TEMPORAL_TLS_PORT=17234
export STACK_KAFKA_PORT=19092 STACK_KAFKA_CONTROLLER_PORT=19093
export STACK_CASSANDRA_PORT=19042 STACK_CASSANDRA_STORAGE_PORT=17000
export STACK_WORKER_PORT=19101 STACK_STREAMING_PORT=19102
finish() {
  stack/stack.sh down >/dev/null 2>&1 || true
  rm -rf "$dir"
}
trap finish EXIT

echo "==> e2e, secured: STACK_SECURE=1 make run on a stack of its own ($dir)"
out=$dir/make-run.out
DURATION=20s make run 2>&1 | tee "$out"
grep -q "Rows in Cassandra for this run: 20 of 20 users published." "$out" ||
  { echo "e2e-secure: make run did not end with every record a row (above)" >&2; exit 1; }

echo "==> e2e, secured: sh takes secure.env as it is"
# The programs get its lines as they are; sh, sourcing it, must read the same values.
while IFS= read -r line; do
  name=${line%%=*}
  got=$(sh -c '. "$1" && eval "printf %s \"\$$2\""' sh "$dir/secure.env" "$name")
  [[ "$name=$got" == "$line" ]] ||
    { echo "e2e-secure: sh reads $name of secure.env otherwise than the programs are given it" >&2; exit 1; }
done < <(grep -E '^[A-Z][A-Z0-9_]*=' "$dir/secure.env")

echo "==> e2e, secured: no secret where it must never be"
secrets=(
  "kafka password:$(<"$dir/kafka/streampipe.password")"
  "cassandra password:$(<"$dir/cassandra/streampipe.password")"
  "temporal api key:$(<"$dir/tls/temporal-api-key")"
  "client private key:$(sed -n 2p "$dir/tls/client.key")"
)
places=$dir/places
mkdir -p "$places"
# Every log of the stack: the programs' and the servers' (Temporal, its front, Kafka,
# Cassandra).
cp "$dir"/logs/*.log "$out" "$dir/run/last-run.json" "$dir/run/last-run.ids" "$places/"
for p in "worker $STACK_WORKER_PORT" "streaming $STACK_STREAMING_PORT"; do
  set -- $p
  curl -fsS "http://127.0.0.1:$2/metrics" >"$places/$1.metrics"
  curl -sS "http://127.0.0.1:$2/healthz" >"$places/$1.healthz"
done
set -a
# shellcheck source=/dev/null
source "$dir/secure.env"
set +a
for prog in worker streaming starter; do bin/$prog -h >"$places/$prog.help" 2>&1; done
(
  # The temporal CLI reads the API key from TEMPORAL_API_KEY only.
  TEMPORAL_API_KEY=$(<"$TEMPORAL_API_KEY_FILE")
  export TEMPORAL_API_KEY
  unset TEMPORAL_API_KEY_FILE
  wf=$(sed -n 's/^Started run \([^ ]*\) on task queue.*/\1/p' "$out" | head -1)
  "$dir/bin/temporal" workflow show -w "$wf" -o json >"$places/history.json"
  "$dir/bin/temporal" workflow describe -w "$wf" -o json >"$places/describe.json"
)
found=0
for s in "${secrets[@]}"; do
  name=${s%%:*} value=${s#*:}
  [[ ${#value} -ge 16 ]] || { echo "e2e-secure: the $name is too short to look for" >&2; exit 1; }
  if hits=$(grep -rlF -- "$value" "$places"); then
    echo "e2e-secure: the $name appears in: $hits" >&2
    found=1
  fi
done
((found == 0)) || exit 1
echo "    none of ${#secrets[@]} secrets in $(find "$places" -type f | wc -l) places ($(du -sh "$places" | cut -f1))"
echo "==> e2e, secured: passed"
