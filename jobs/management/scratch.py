"""A scratch database for benchmark commands, so they never touch the service's jobs.

The command runs itself again in a child process whose ``DATABASE_URL`` points at a
SQLite file in a new temporary directory (deleted afterwards), or at a throwaway
database on a PostgreSQL server (``throwaway_server_database``), with ``MONGODB_URI``
unset; the child can check with ``in_scratch_database()`` that it is that child.
"""

import contextlib
import os
import secrets
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import dj_database_url
from django.conf import settings
from django.core.management.base import CommandError

#: Set by the parent for its child: the only database file the child may fill.
SCRATCH_DATABASE_ENV = "JOBQUEUE_SCRATCH_DATABASE"
#: Where ``tmpfs=True`` puts the scratch database: a RAM file system, so fsync is free.
TMPFS_DIR = Path("/dev/shm")


def run_in_scratch_database(
    arguments: list[str],
    *,
    stdout,
    database: Path | None = None,
    database_url: str | None = None,
    extra_env: dict[str, str] | None = None,
) -> Path:
    """Run ``manage.py <arguments>`` in a child on a scratch SQLite database and copy its
    output (stderr included) to ``stdout``, line by line.

    ``database`` chooses the file (kept afterwards); by default it is ``bench.sqlite3`` in
    the temporary directory. ``database_url`` runs the child on that server database
    instead (one from ``throwaway_server_database``). Returns the file's path;
    ``CommandError`` if the child fails.
    """
    with tempfile.TemporaryDirectory(prefix="jobqueue-bench-") as scratch:
        database = Path(database).resolve() if database else Path(scratch) / "bench.sqlite3"
        (Path(scratch) / "static").mkdir()  # STATIC_ROOT, which WhiteNoise expects to exist
        env = {
            **os.environ,
            "DATABASE_URL": database_url or f"sqlite:///{database}",
            "MONGODB_URI": "",
            "JOBQUEUE_VAR_DIR": scratch,
            "DJANGO_SECRET_KEY": secrets.token_urlsafe(40),
            "DJANGO_DEBUG": "0",
            SCRATCH_DATABASE_ENV: dj_database_url.parse(database_url)["NAME"] if database_url else str(database),
            **(extra_env or {}),
        }
        command = [sys.executable, str(Path(settings.BASE_DIR) / "manage.py"), *arguments]
        with subprocess.Popen(
            command, env=env, cwd=settings.BASE_DIR, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        ) as child:
            for line in child.stdout:
                stdout.write(line.rstrip("\n"))
        if child.returncode:
            raise CommandError(f"the benchmark process failed (exit status {child.returncode})")
    return database


def run_on_scratch_sql(
    arguments: list[str], *, stdout, database: Path | None, database_url: str | None, tmpfs: bool
) -> None:
    """``run_in_scratch_database`` on the SQL database a benchmark was asked for: a
    throwaway database on the server of ``database_url``, else the file ``database`` (or a
    temporary one), in ``TMPFS_DIR`` with ``tmpfs``. ``CommandError`` if there is no tmpfs."""
    if database_url:
        with throwaway_server_database(database_url) as url:
            run_in_scratch_database(arguments, stdout=stdout, database_url=url)
        return
    if not tmpfs:
        run_in_scratch_database(arguments, stdout=stdout, database=database)
        return
    if not TMPFS_DIR.is_dir():
        raise CommandError(f"--tmpfs needs {TMPFS_DIR} (a RAM file system), which this machine does not have")
    with tempfile.TemporaryDirectory(prefix="jobqueue-bench-", dir=TMPFS_DIR) as scratch:
        run_in_scratch_database(arguments, stdout=stdout, database=Path(scratch) / "bench.sqlite3")


def in_scratch_database() -> bool:
    """Whether this process is a child of ``run_in_scratch_database`` on its database."""
    return os.environ.get(SCRATCH_DATABASE_ENV) == str(settings.DATABASES["default"]["NAME"])


#: OPTIONS Django's PostgreSQL backend reads itself and does not pass to psycopg.
DJANGO_ONLY_OPTIONS = frozenset({"server_side_binding", "pool", "assume_role", "isolation_level"})


@contextlib.contextmanager
def throwaway_server_database(url: str) -> Iterator[str]:
    """Create a new, empty database on the PostgreSQL server of ``url`` (whose user needs
    CREATEDB), yield its URL, and drop it afterwards, connections and all."""
    config = dj_database_url.parse(url)
    if config["ENGINE"] != "django.db.backends.postgresql":
        raise CommandError("--database-url must be a PostgreSQL URL (postgres://user:password@host:port/database)")
    import psycopg  # a runtime requirement, imported here so SQLite-only commands never load it

    name = f"jobqueue_bench_{uuid.uuid4().hex[:8]}"
    # The URL's query parameters are Django's OPTIONS; psycopg takes all but Django's own.
    options = {key: value for key, value in config.get("OPTIONS", {}).items() if key not in DJANGO_ONLY_OPTIONS}
    try:
        server = psycopg.connect(
            dbname=config["NAME"],
            user=config["USER"] or None,
            password=config["PASSWORD"] or None,
            host=config["HOST"] or None,
            port=config["PORT"] or None,
            autocommit=True,
            **options,
        )
    except psycopg.Error as error:
        raise CommandError(f"cannot connect to the PostgreSQL server of --database-url: {error}") from error
    with server:
        try:
            server.execute(f"CREATE DATABASE {name}")
        except psycopg.Error as error:
            raise CommandError(f"cannot create a throwaway database there: {error}") from error
        try:
            yield urlunsplit(urlsplit(url)._replace(path=f"/{name}"))
        finally:
            server.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
