"""Run the whole service with one command: migrations, static files, the first admin
account, then the API + admin (``WEB_CONCURRENCY`` web server processes on one listening
socket) and a worker pool (``runworkers``) side by side.

``serve`` binds the port itself, so a port that is taken fails the start at once, and
the web processes share the socket: while one is restarted the others answer. Children
never outlive ``serve`` (see ``jobs.management.supervision``); one that dies is restarted
with a backoff. Ctrl-C, SIGTERM or SIGHUP asks each child to stop once (the pool drains
its running jobs); a second signal stops them at once.
"""

import errno
import os
import sys

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError

from apikeys.permissions import api_is_open
from jobqueue.env import envint
from jobqueue.webserver.sockets import listening_socket
from jobs.management.supervision import Child, GaveUp, Supervisor
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
        host = os.environ.get("HOST", "127.0.0.1")
        port = envint("PORT", 8080, minimum=1, maximum=65535)
        sock = self._bind(host, port)
        call_command("migrate", interactive=False, verbosity=0)
        call_command("collectstatic", interactive=False, verbosity=0)
        call_command("ensureadmin", stdout=self.stdout)
        try:
            store = get_store()
        except StoreUnavailable as error:
            raise CommandError(str(error)) from error
        self.stdout.write(f"Jobs are kept in {store.describe()}.")
        self.stdout.write(api_access_summary())
        store.close()

        web = [sys.executable, "-m", "jobqueue.webserver", "--fd", str(sock.fileno())]
        children = [
            Child(f"web server {n}", web, pass_fds=(sock.fileno(),))
            for n in range(1, envint("WEB_CONCURRENCY", 2, minimum=1, maximum=64) + 1)
        ]
        if not no_workers:
            workers = [sys.executable, "manage.py", "runworkers"]
            if concurrency:
                workers += ["--concurrency", str(concurrency)]
            children.append(Child("worker pool", workers))
        self.stdout.write(f"Serving on http://{host}:{port}/ (API at /jobs, admin at /admin/). Press Ctrl-C to stop.")
        self.stdout.flush()
        try:
            Supervisor(children, cwd=settings.BASE_DIR, log=self.stderr.write).run()
        except GaveUp as error:
            raise CommandError(f"{error}; the service was shut down") from error
        finally:
            sock.close()
        self.stdout.write("Stopped.")

    @staticmethod
    def _bind(host: str, port: int):
        try:
            return listening_socket(host, port)
        except OSError as error:
            if error.errno == errno.EADDRINUSE:
                raise CommandError(f"port {port} on {host} is already in use by another process") from None
            raise CommandError(f"cannot listen on {host}:{port}: {error.strerror}") from None
