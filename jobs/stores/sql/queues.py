"""Named queues: pausing and resuming claims from a queue (the paused names are rows of
``PausedQueueRecord``), and the per-queue counts and oldest due job the queue list shows.
"""

from __future__ import annotations

from datetime import datetime

from django.db.models import Count

from jobs.models import PausedQueueRecord
from jobs.stores.sql.inbox import Inbox
from jobs.stores.sql.rows import parse_datetime
from jobs.stores.sql.statements import TABLE
from jobs.timeutil import truncate_ms


class NamedQueues(Inbox):
    """``pause_queue``, ``resume_queue``, ``paused_queues``, ``count_by_queue_and_status``
    and ``oldest_due_by_queue``."""

    def _paused(self):
        return PausedQueueRecord.objects.using(self.using)

    def pause_queue(self, name: str, *, now: datetime) -> None:
        self._paused().get_or_create(name=name, defaults={"paused_at": truncate_ms(now)})

    def resume_queue(self, name: str) -> None:
        self._paused().filter(name=name).delete()

    def paused_queues(self) -> set[str]:
        return set(self._paused().values_list("name", flat=True))

    def count_by_queue_and_status(self) -> dict[tuple[str, str], int]:
        self._settle_inbox()
        rows = self._jobs().values_list("queue", "status").annotate(n=Count("*")).order_by()
        return {(queue, status): n for queue, status, n in rows}

    def oldest_due_by_queue(self, *, now: datetime) -> dict[str, datetime]:
        self._settle_inbox()
        rows = self._execute(
            f"SELECT queue, MIN(run_at) FROM {TABLE} WHERE status = 'pending' AND run_at <= %s GROUP BY queue",
            (self._dt(truncate_ms(now)),),
        )
        return {queue: parse_datetime(oldest) for queue, oldest in rows}
