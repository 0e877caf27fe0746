#!/usr/bin/env bash
# scripts/vulndb.sh — builds the Go vulnerability database that `make lint` gives
# govulncheck (-db file://DIR) and prints DIR.
#
# govulncheck reads its database from https://vuln.go.dev by default, which need not be
# reachable where the Go module proxy is. The same advisories are in module
# golang.org/x/vulndb (its data/osv/*.json), which the proxy serves like any module; its
# own command cmd/indexdb turns them into the layout govulncheck reads (index/db.json,
# index/modules.json, ID/GO-….json, each also gzipped). Both the module and the
# database are cached per version under the stack's cache (~/.cache/streampipe):
# later runs only print the folder.
#
# The version is VULNDB_VERSION (stack/versions.env); `VULNDB_VERSION=latest
# scripts/vulndb.sh` builds the newest the proxy has and says which it is, to copy into
# stack/versions.env.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

# shellcheck source=../stack/versions.env
pinned=$(. stack/versions.env && echo "$VULNDB_VERSION")
version=${VULNDB_VERSION:-$pinned}
cache=${STREAMPIPE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/streampipe}
outside=$(mktemp -d) # `go mod download` and `go list` away from this module's go.mod
trap 'rm -rf "$outside"' EXIT

if [[ $version == latest ]]; then
  version=$(cd "$outside" && go list -m -f '{{.Version}}' golang.org/x/vulndb@latest)
  echo "vulndb: the newest golang.org/x/vulndb is $version (VULNDB_VERSION in stack/versions.env pins one)" >&2
fi
db=$cache/vulndb-$version
if [[ -s $db/index/db.json ]]; then
  echo "$db"
  exit 0
fi

echo "vulndb: building the vulnerability database of golang.org/x/vulndb@$version into $db (once per version)" >&2
src=$(cd "$outside" && go mod download -json "golang.org/x/vulndb@$version" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
if [[ ! -d $src/data/osv ]]; then
  echo "vulndb: golang.org/x/vulndb@$version has no data/osv (is the Go module proxy reachable? GOPROXY=$(go env GOPROXY))" >&2
  exit 1
fi
indexdb=$(stack/stack.sh tool indexdb) # the pinned version's: the layout is the same
tmp=$(mktemp -d "$cache/vulndb-build.XXXXXX")
"$indexdb" -vulns "$src/data/osv" -out "$tmp/db"
mv "$tmp/db" "$db"
rm -rf "$tmp"
echo "$db"
