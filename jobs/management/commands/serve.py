"""Run the whole service with one command: migrations, static files, the first admin
account, then the API + admin (gunicorn) and a worker pool (runworkers) side by side.

The two children run in their own sessions so that Ctrl-C reaches only this command,
which then asks each child to stop once (SIGTERM: the pool drains its running jobs).
A second Ctrl-C stops them at once. If either child dies, the other is stopped too and
the command fails, so a supervisor (systemd, Docker) can restart the service.
"""

import os
import signal
import subprocess
import sys
import time

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError

from apikeys.permissions import api_is_open
from jobs.stores import StoreUnavailable, get_store


def api_access_summary() -> str:
    """One line saying who may use the API (``JOBQUEUE_API_AUTH``)."""
    if api_is_open():
        return (
            "The API is OPEN (JOBQUEUE_API_AUTH=open): anyone who can reach this port may enqueue and read jobs; "
            "set JOBQUEUE_API_AUTH=required before putting it on a network."
        )
    return "The API requires an API key (Authorization: Bearer <key>); make one with `python manage.py createapikey`."


class Command(BaseCommand):
    help = "Migrate, collect static files, create the first admin, then run API + admin + workers."

    def add_arguments(self, parser):
        parser.add_argument(
            "--concurrency",
            type=int,
            default=None,
            help=f"Worker threads (default: JOBQUEUE_WORKERS, {settings.JOBQUEUE_WORKERS} now).",
        )
        parser.add_argument(
            "--no-workers", action="store_true", help="Serve the API and admin only; run workers elsewhere."
        )

    def handle(self, *args, concurrency, no_workers, **options):
        call_command("migrate", interactive=False, verbosity=0)
        call_command("collectstatic", interactive=False, verbosity=0)
        call_command("ensureadmin", stdout=self.stdout)
        try:
            store = get_store()
        except StoreUnavailable as error:
            raise CommandError(str(error)) from error
        self.stdout.write(f"Jobs are kept in {store.describe()}.")
        self.stdout.write(api_access_summary())

        children = {"web": self._start([sys.executable, "-m", "gunicorn", "jobqueue.wsgi"])}
        if not no_workers:
            workers = [sys.executable, "manage.py", "runworkers"]
            if concurrency:
                workers += ["--concurrency", str(concurrency)]
            children["workers"] = self._start(workers)
        self.stdout.write(
            f"Serving on http://{os.environ.get('HOST', '127.0.0.1')}:{os.environ.get('PORT', '8080')}/ "
            "(API at /jobs, admin at /admin/). Press Ctrl-C to stop."
        )
        failed = self._supervise(children)
        if failed:
            raise CommandError(f"{failed} stopped unexpectedly; the service was shut down")
        self.stdout.write("Stopped.")

    def _start(self, command: list[str]) -> subprocess.Popen:
        return subprocess.Popen(command, cwd=settings.BASE_DIR, start_new_session=True)

    def _supervise(self, children: dict[str, subprocess.Popen]) -> str | None:
        """Wait for a stop signal or a child's death; stop everything; the dead child's name."""
        signals_seen = []

        def on_signal(signum, frame):
            signals_seen.append(signum)
            sig = signal.SIGTERM if len(signals_seen) == 1 else signal.SIGKILL
            for child in children.values():
                if child.poll() is None:
                    child.send_signal(sig)

        signal.signal(signal.SIGINT, on_signal)
        signal.signal(signal.SIGTERM, on_signal)
        died = None
        while any(child.poll() is None for child in children.values()):
            if not signals_seen and died is None:
                died = next((name for name, child in children.items() if child.poll() is not None), None)
                if died:
                    self.stderr.write(f"{died} exited with code {children[died].returncode}; stopping the rest")
                    on_signal(signal.SIGTERM, None)
            time.sleep(0.2)
        return died
