#!/usr/bin/env bash
# `make test-mongo`: every test that talks to a MongoDB server (`pytest -m mongodb`), run
# over the wire against CongoDB, the in-memory MongoDB wire-protocol server inside the npm
# package @push.rocks/smartmongo. No MongoDB server can be installed from the registries
# this project uses; CongoDB is the most faithful server that can.
#
# The package's own dependency tree does not resolve from the registry, so this installs
# its tarball by hand plus only what its congodb folder imports (about 24 MB, into
# var/congodb, reused by later runs), starts it with .ci/congodb.mjs, runs the tests with
# MONGODB_URI and MONGODB_SERVER=congodb (which skips, with the reason, the tests needing
# what CongoDB lacks), and stops it.
#
# MONGO_PORT (default 27017, or a free port if that one is taken) is the port it listens on, on 127.0.0.1 only.
# Extra arguments go to pytest, e.g. `.ci/mongo.sh -k claim`.
set -euo pipefail
cd "$(dirname "$0")/.."

source .ci/lib.sh

MONGO_PORT=${MONGO_PORT:-$(usual_or_free_port 27017)}
INSTALL_DIR=var/congodb
SMARTMONGO_VERSION=2.2.0
# What dist_ts/congodb imports, pinned (bson 6 and mingo 7 as smartmongo 2.2.0 asks).
CONGODB_IMPORTS=(
  bson@6.9.1
  mingo@7.2.7
  @push.rocks/smartfs@1.5.0
  @push.rocks/smartpath@6.0.0
  @push.rocks/smartpromise@4.2.3
  @push.rocks/smartrx@3.0.10
)

if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  apt_install "nodejs and npm" nodejs npm
fi

stamp="$INSTALL_DIR/.installed"
wanted="@push.rocks/smartmongo@$SMARTMONGO_VERSION ${CONGODB_IMPORTS[*]}"
if [ "$(cat "$stamp" 2>/dev/null)" != "$wanted" ]; then
  echo "installing CongoDB (@push.rocks/smartmongo@$SMARTMONGO_VERSION) into $INSTALL_DIR"
  rm -rf "$INSTALL_DIR"
  mkdir -p "$INSTALL_DIR"
  echo '{"private": true}' >"$INSTALL_DIR/package.json"
  npm install --silent --no-audit --no-fund --ignore-scripts --prefix "$INSTALL_DIR" "${CONGODB_IMPORTS[@]}"
  tarball=$(cd "$INSTALL_DIR" && npm pack --silent "@push.rocks/smartmongo@$SMARTMONGO_VERSION")
  # After npm install, which would prune a package it did not install itself.
  mkdir -p "$INSTALL_DIR/node_modules/@push.rocks/smartmongo"
  tar xzf "$INSTALL_DIR/$tarball" -C "$INSTALL_DIR/node_modules/@push.rocks/smartmongo" --strip-components=1
  rm "$INSTALL_DIR/$tarball"
  echo "$wanted" >"$stamp"
fi

log=$(mktemp -t congodb.XXXXXX.log)
node .ci/congodb.mjs "$INSTALL_DIR" "$MONGO_PORT" >"$log" 2>&1 &
server_pid=$!
stop_server() {
  kill "$server_pid" 2>/dev/null || true
  wait "$server_pid" 2>/dev/null || true
  rm -f "$log"
}
trap stop_server EXIT
for _ in $(seq 1 100); do
  grep -q "CongoDB listening" "$log" && break
  kill -0 "$server_pid" 2>/dev/null || { echo "CongoDB did not start:"; cat "$log"; exit 1; }
  sleep 0.1
done
grep -q "CongoDB listening" "$log" || { echo "CongoDB did not start within 10 s:"; cat "$log"; exit 1; }
cat "$log"

# make exits non-zero when pytest does, including exit 5 (no tests collected).
MONGODB_URI="mongodb://127.0.0.1:$MONGO_PORT/jobqueue" MONGODB_SERVER=congodb \
  make test PYTEST_ARGS="-m mongodb ${*:-}"
