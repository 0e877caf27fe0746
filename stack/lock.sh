#!/usr/bin/env bash
# Makes the lock files of stack/lock/ that stack/stack.sh installs from, for the versions of
# stack/versions.env (run it after changing one; `make stack-lock`):
#
#   kafka-jars.txt, cassandra-jars.txt  every jar of Kafka's and Cassandra's runtime, as
#       "PATH-IN-MAVEN-CENTRAL SHA256" lines: Maven resolves the dependencies once, here,
#       into an empty repository of its own, failing on any checksum Maven Central's own
#       files contradict (--strict-checksums); the sha256 of each jar is then taken here.
#   cqlsh.txt, spark.txt  pip requirements with every dependency pinned (==) and the sha256
#       of every file PyPI serves for that version (any platform), for pip --require-hashes.
#   npm.txt  playwright-core's tarball (the browser test's driver), by its sha512 as npm's
#       integrity field writes it.
#   python-build.txt  setuptools and wheel, with which pip builds the packages PyPI serves
#       as source only (pyspark, pure-sasl): installed first, then used without build
#       isolation, so that no build dependency is taken unpinned.
#
# A lock is what the install trusts from then on: review its diff before committing it.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=versions.env
source "$ROOT/stack/versions.env"
LOCK=$ROOT/stack/lock
PYPI_SIMPLE=${PYPI_SIMPLE:-https://pypi.org/simple}

step() { printf '==> %s\n' "$*"; }
die() { printf 'lock: %s\n' "$*" >&2; exit 1; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/streampipe-lock.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

# jar_lock OUT GROUP:ARTIFACT:VERSION... — the runtime jars of the artifacts.
jar_lock() {
  local out=$1 dep g a v deps="" repo=$tmp/m2 path
  shift
  step "resolving $* (Maven, strict checksums)"
  for dep in "$@"; do
    IFS=: read -r g a v <<<"$dep"
    deps+="<dependency><groupId>$g</groupId><artifactId>$a</artifactId><version>$v</version></dependency>"
  done
  cat >"$tmp/pom.xml" <<EOF
<project xmlns="http://maven.apache.org/POM/4.0.0"><modelVersion>4.0.0</modelVersion>
<groupId>io.streampipe.stack</groupId><artifactId>jars</artifactId><version>1</version><packaging>pom</packaging>
<dependencies>$deps</dependencies></project>
EOF
  mvn -B -q -C -f "$tmp/pom.xml" -Dmaven.repo.local="$repo" dependency:list -DincludeScope=runtime \
    -DoutputAbsoluteArtifactFilename=true -DoutputFile="$tmp/list" >"$tmp/mvn.log" 2>&1 ||
    { tail -n 20 "$tmp/mvn.log" >&2; die "Maven could not resolve $* (log above)"; }
  {
    echo "# The runtime jars of $*: \"path in Maven Central\" sha256."
    echo "# Made by stack/lock.sh; stack/stack.sh downloads and checks each."
    grep -o "$repo/[^ ]*\.jar" "$tmp/list" | LC_ALL=C sort | while read -r path; do
      echo "${path#"$repo"/} $(sha256sum "$path" | cut -d' ' -f1)"
    done
  } >"$out.new"
  mv "$out.new" "$out"
  echo "    $out: $(grep -vc '^#' "$out") jars"
}

# pip_lock OUT REQUIREMENT... — REQUIREMENTs and everything they need, as pip resolves
# them for this machine's python3, each pinned with the hashes of all its files.
pip_lock() {
  local out=$1
  shift
  step "resolving $* (pip)"
  [[ -x $tmp/venv/bin/python3 ]] || python3 -m venv "$tmp/venv" || die "python3 -m venv failed"
  "$tmp/venv/bin/python3" -m pip install -q --disable-pip-version-check --dry-run --ignore-installed \
    --report "$tmp/report.json" "$@" >"$tmp/pip.log" 2>&1 ||
    { tail -n 20 "$tmp/pip.log" >&2; die "pip could not resolve $* (log above)"; }
  "$tmp/venv/bin/python3" - "$tmp/report.json" "$PYPI_SIMPLE" "$*" <<'PY' >"$out.new" || die "could not read the hashes of $* from $PYPI_SIMPLE"
import json, re, sys, urllib.request

report, index, what = sys.argv[1:]
norm = lambda name: re.sub(r"[-_.]+", "-", name).lower()
pins = sorted((norm(i["metadata"]["name"]), i["metadata"]["version"]) for i in json.load(open(report))["install"])
print(f"# {what}, and what it needs: every file's sha256, for pip --require-hashes.")
print("# Made by stack/lock.sh; stack/stack.sh installs from it.")
for name, version in pins:
    req = urllib.request.Request(f"{index}/{name}/", headers={"Accept": "application/vnd.pypi.simple.v1+json"})
    hashes = []
    for f in json.load(urllib.request.urlopen(req, timeout=60))["files"]:
        fn = f["filename"]
        if fn.endswith(".whl"):
            fname, fversion = fn.split("-")[:2]
        else:
            fname, _, fversion = re.sub(r"\.(tar\.gz|zip|tar\.bz2)$", "", fn).rpartition("-")
        if norm(fname) == name and fversion == version and "sha256" in f["hashes"]:
            hashes.append(f["hashes"]["sha256"])
    if not hashes:
        sys.exit(f"{index} has no file of {name} {version}")
    print(f"{name}=={version} \\")
    print(" \\\n".join(f"    --hash=sha256:{h}" for h in sorted(hashes)))
PY
  mv "$out.new" "$out"
  echo "    $out: $(grep -c '^[^#].*==' "$out") packages"
}

# npm_lock OUT PACKAGE@VERSION — the package's tarball, by its sha512.
npm_lock() {
  local out=$1 pkg=$2
  step "downloading $pkg (npm)"
  mkdir -p "$tmp/npm"
  (cd "$tmp/npm" && npm pack --silent "$pkg" >/dev/null) || die "npm could not download $pkg"
  {
    echo "# npm packages by the sha512 of their tarball, as npm's integrity field writes it."
    echo "# Made by stack/lock.sh; stack/stack.sh checks the tarball before npm installs it."
    echo "$pkg sha512-$(openssl dgst -sha512 -binary "$tmp"/npm/*.tgz | base64 -w0)"
  } >"$out"
  echo "    $out"
}

mkdir -p "$LOCK"
npm_lock "$LOCK/npm.txt" "playwright-core@$PLAYWRIGHT_CORE_VERSION"
jar_lock "$LOCK/kafka-jars.txt" "org.apache.kafka:kafka_$KAFKA_SCALA_VERSION:$KAFKA_VERSION" \
  "org.apache.kafka:kafka-tools:$KAFKA_VERSION" "org.apache.logging.log4j:log4j-slf4j-impl:$LOG4J_VERSION" \
  "org.apache.logging.log4j:log4j-core:$LOG4J_VERSION"
rm -rf "$tmp/m2" # each lock from a repository of its own: no jar of one leaks into the other
jar_lock "$LOCK/cassandra-jars.txt" "org.apache.cassandra:cassandra-all:$CASSANDRA_VERSION"
pip_lock "$LOCK/python-build.txt" setuptools wheel
pip_lock "$LOCK/cqlsh.txt" "cqlsh==$CQLSH_VERSION"
pip_lock "$LOCK/spark.txt" "pyspark==$SPARK_VERSION"
