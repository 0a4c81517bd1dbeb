"""``manage.py workerhealth``: exit 0 when a worker pool on this host is alive, else 1.

For container health checks of a worker container: the pool registry says whether a
pool of this host (``socket.gethostname()``, the container's name under Docker)
heartbeated within the lease time (or ``--max-age`` seconds).
"""

import socket
from datetime import timedelta

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from jobs import services
from jobs.stores import StoreUnavailable
from jobs.timeutil import utc_now


class Command(BaseCommand):
    help = "Exit 0 if a worker pool on this host heartbeated recently, 1 if not (for container health checks)."

    def add_arguments(self, parser):
        parser.add_argument("--host", default=None, help="Host name to look for (default: this host's name).")
        parser.add_argument(
            "--max-age",
            type=float,
            default=None,
            help="Seconds since the last heartbeat (default: JOBQUEUE_LEASE_SECONDS).",
        )

    def handle(self, *args, host, max_age, **options):
        host = host or socket.gethostname()
        max_age = settings.JOBQUEUE_LEASE_SECONDS if max_age is None else max_age
        since = utc_now() - timedelta(seconds=max_age)
        try:
            pools = [pool for pool in services.live_worker_pools() if pool.host == host and pool.heartbeat_at >= since]
        except StoreUnavailable as error:
            raise CommandError(f"unhealthy: job store unavailable: {error}") from error
        if not pools:
            raise CommandError(f"unhealthy: no worker pool on {host} heartbeated in the last {max_age:g} s")
        busy = sum(pool.running for pool in pools)
        self.stdout.write(f"healthy: {len(pools)} worker pool(s) on {host}, {busy} job(s) running")
