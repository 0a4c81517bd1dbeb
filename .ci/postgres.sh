#!/usr/bin/env bash
# `make test-postgres`: the whole suite on PostgreSQL. Installs Debian's postgresql if it
# is missing, starts a throwaway cluster in a temporary directory (as the postgres user
# when run as root), creates a role allowed to create the test database, runs `make test`
# with DATABASE_URL pointing at it, then stops the cluster and removes it.
#
# PGPORT (default 5432, or a free port if that one is taken) is the port of the throwaway cluster; it listens on 127.0.0.1 only.
# Extra arguments go to pytest, e.g. `.ci/postgres.sh -k claim`.
set -euo pipefail
cd "$(dirname "$0")/.."

source .ci/lib.sh

PGPORT=${PGPORT:-$(usual_or_free_port 5432)}

find_bindir() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1; }

bindir=$(find_bindir)
if [ -z "$bindir" ]; then
  apt_install postgresql postgresql
  bindir=$(find_bindir)
fi

# initdb refuses to run as root: the cluster belongs to the postgres user when we are root.
as_owner() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

cluster=$(mktemp -d -t jobqueue-pg.XXXXXX)
[ "$(id -u)" = 0 ] && chown postgres "$cluster"
stop_cluster() {
  as_owner "$bindir/pg_ctl" -D "$cluster/data" -m fast -w stop >/dev/null 2>&1 || true
  rm -rf "$cluster"
}
trap stop_cluster EXIT

as_owner "$bindir/initdb" -D "$cluster/data" -U postgres -A trust -E UTF8 >/dev/null
# A throwaway cluster need not survive a power cut: without fsync, Django's per-test
# flush (hundreds of commits) does not wait on the disk.
as_owner "$bindir/pg_ctl" -D "$cluster/data" -l "$cluster/server.log" -w \
  -o "-p $PGPORT -k $cluster -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off" \
  start >/dev/null \
  || { cat "$cluster/server.log"; exit 1; }

password="ci-$RANDOM$RANDOM"
as_owner "$bindir/psql" -X -q -h "$cluster" -p "$PGPORT" -U postgres -d postgres -v ON_ERROR_STOP=1 \
  -c "CREATE ROLE jobqueue LOGIN CREATEDB PASSWORD '$password'" \
  -c "CREATE DATABASE jobqueue OWNER jobqueue"

version=$(as_owner "$bindir/psql" -X -At -h "$cluster" -p "$PGPORT" -U postgres -d postgres -c "SHOW server_version")
echo "PostgreSQL $version on 127.0.0.1:$PGPORT (cluster in $cluster)"

# make exits non-zero when pytest does, including exit 5 (no tests collected).
DATABASE_URL="postgres://jobqueue:$password@127.0.0.1:$PGPORT/jobqueue" make test PYTEST_ARGS="${*:-}"
