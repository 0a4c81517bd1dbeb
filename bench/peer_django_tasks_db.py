"""django-tasks-db on SQLite (WAL, synchronous=FULL): enqueue N no-op tasks one by one,
then run them with one ``db_worker`` (it takes one task at a time; ``--threads`` is
ignored). Prints one JSON line (see ``common.report``).

django-tasks-db keeps a row per task with its status, start and finish times, worker
ids and return value.
"""

import sys
from pathlib import Path

import django
from django.conf import settings
from django.core.management import call_command

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import parse_arguments, report, timed


def noop():
    return None


def configure(directory: Path) -> None:
    settings.configure(
        INSTALLED_APPS=["django_tasks", "django_tasks_db"],
        DATABASES={
            "default": {
                "ENGINE": "django.db.backends.sqlite3",
                "NAME": str(directory / "django_tasks_db.sqlite3"),
                "OPTIONS": {"init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"},
            }
        },
        TASKS={"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}},
        USE_TZ=True,
        DEFAULT_AUTO_FIELD="django.db.models.BigAutoField",
    )
    django.setup()


def main() -> None:
    global noop  # the worker imports the task by its path, __main__.noop
    arguments = parse_arguments(__doc__)
    configure(Path(arguments.directory))
    call_command("migrate", verbosity=0, interactive=False)
    from django_tasks import task
    from django_tasks_db.models import DBTaskResult

    noop = task()(noop)

    def enqueue_all():
        for _ in range(arguments.jobs):
            noop.enqueue()

    enqueue = timed(enqueue_all)

    def process_all():
        call_command("db_worker", "--batch", "--interval=0", "--no-startup-delay", "--no-reload", verbosity=0)

    process_seconds, _ = timed(process_all)
    report(
        jobs=arguments.jobs,
        enqueue=enqueue,
        process_seconds=process_seconds,
        completed=DBTaskResult.objects.successful().count(),
    )


if __name__ == "__main__":
    main()
