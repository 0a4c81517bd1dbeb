"""A scratch SQLite database for benchmark commands, so they never touch the service's jobs.

The command runs itself again in a child process whose ``DATABASE_URL`` points at a
SQLite file in a new temporary directory (deleted afterwards), with ``MONGODB_URI``
unset; the child can check with ``in_scratch_database()`` that it is that child.
"""

import os
import secrets
import subprocess
import sys
import tempfile
from pathlib import Path

from django.conf import settings
from django.core.management.base import CommandError

#: Set by the parent for its child: the only database file the child may fill.
SCRATCH_DATABASE_ENV = "JOBQUEUE_SCRATCH_DATABASE"


def run_in_scratch_database(
    arguments: list[str], *, stdout, database: Path | None = None, extra_env: dict[str, str] | None = None
) -> Path:
    """Run ``manage.py <arguments>`` in a child on a scratch SQLite database and copy its
    output (stderr included) to ``stdout``, line by line.

    ``database`` chooses the file (kept afterwards); by default it is ``bench.sqlite3`` in
    the temporary directory. Returns the file's path; ``CommandError`` if the child fails.
    """
    with tempfile.TemporaryDirectory(prefix="jobqueue-bench-") as scratch:
        database = Path(database).resolve() if database else Path(scratch) / "bench.sqlite3"
        (Path(scratch) / "static").mkdir()  # STATIC_ROOT, which WhiteNoise expects to exist
        env = {
            **os.environ,
            "DATABASE_URL": f"sqlite:///{database}",
            "MONGODB_URI": "",
            "JOBQUEUE_VAR_DIR": scratch,
            "DJANGO_SECRET_KEY": secrets.token_urlsafe(40),
            "DJANGO_DEBUG": "0",
            SCRATCH_DATABASE_ENV: str(database),
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


def in_scratch_database() -> bool:
    """Whether this process is a child of ``run_in_scratch_database`` on its database."""
    return os.environ.get(SCRATCH_DATABASE_ENV) == str(settings.DATABASES["default"]["NAME"])
