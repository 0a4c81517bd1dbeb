"""The second database of ``benchqueue --finished``: a store of the same kind beside the
benchmark's own, where the finished jobs go, so that the two tables are measured in turns
under the same conditions (same process, same disk or server, same settings).

Each function is a context manager that yields the second store, ready for use, and
removes what it made afterwards (except a SQLite file beside a ``--database`` the user
keeps).
"""

import contextlib
import copy
from collections.abc import Iterator
from pathlib import Path

from django.conf import settings
from django.core.management import call_command
from django.db import connections

from jobs.stores import JobStore, build_store

#: The Django database alias of the SQL store's second database, while it exists.
SECOND_ALIAS = "bench_finished"
#: What the name of the second SQLite file adds to the first's stem.
SECOND_SUFFIX = "-finished"


@contextlib.contextmanager
def second_sql_store(first_alias: str) -> Iterator[JobStore]:
    """A ``SqlJobStore`` on a new database beside the one of ``first_alias``, migrated,
    with the same connection settings (SQLite pragmas, PostgreSQL options).

    SQLite: the file ``<name>-finished<suffix>`` in the same folder (an earlier run's is
    replaced; the file stays, as the first does: in a scratch folder it goes with it).
    PostgreSQL: a new database on the same server, dropped afterwards, connections and all.
    """
    from jobs.stores.sql import SqlJobStore

    first = connections[first_alias]
    config = copy.deepcopy(first.settings_dict)
    if first.vendor == "sqlite":
        path = Path(config["NAME"])
        path = path.with_name(f"{path.stem}{SECOND_SUFFIX}{path.suffix}")
        for leftover in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
            leftover.unlink(missing_ok=True)
        config["NAME"] = str(path)
        with _database_alias(config):
            yield _ready(SqlJobStore(SECOND_ALIAS))
        return
    # PostgreSQL (the only other vendor the SQL store runs on): the first database's
    # connection creates the second, as Django's test runner creates its test database.
    name = f"{config['NAME'][:50]}_finished"
    quoted = first.ops.quote_name(name)
    with first.cursor() as cursor:
        cursor.execute(f"CREATE DATABASE {quoted}")
    try:
        config["NAME"] = name
        with _database_alias(config):
            yield _ready(SqlJobStore(SECOND_ALIAS))
    finally:
        with first.cursor() as cursor:
            cursor.execute(f"DROP DATABASE IF EXISTS {quoted} WITH (FORCE)")


@contextlib.contextmanager
def _database_alias(config: dict) -> Iterator[None]:
    """Django knows the database of ``config`` as ``SECOND_ALIAS`` (migrated) while inside."""
    connections.settings[SECOND_ALIAS] = config
    try:
        call_command("migrate", database=SECOND_ALIAS, interactive=False, verbosity=0)
        yield
    finally:
        # The pool's threads closed theirs when they ended; this is the main thread's.
        connections[SECOND_ALIAS].close()
        del connections[SECOND_ALIAS]
        del connections.settings[SECOND_ALIAS]


@contextlib.contextmanager
def second_mongo_store(database_name: str, event_listeners: list) -> Iterator[JobStore]:
    """The configured MongoDB store in database ``database_name`` of the same server (its
    client carries ``event_listeners`` as the first store's does), dropped afterwards."""
    config = settings.JOBQUEUE_STORE
    options = {**config.get("OPTIONS", {}), "database_name": database_name, "event_listeners": event_listeners}
    store = build_store({**config, "OPTIONS": options})
    try:
        yield _ready(store)
    finally:
        store.drop_database()


@contextlib.contextmanager
def second_mongomock_store() -> Iterator[JobStore]:
    """A mongomock store of its own (another in-memory client and database)."""
    from tests.mongomock_store import MongomockJobStore

    yield _ready(MongomockJobStore("jobqueue_bench_finished"))


def _ready(store: JobStore) -> JobStore:
    store.ensure_ready()
    return store
