"""Rate limits of the API, per API key (per user, per client address when open).

A fixed-window counter per client and scope in the database (``ThrottleWindow``): every
gunicorn process and machine counts together, and the count goes up by one UPDATE, so
concurrent requests are all counted (a cache's read-modify-write would lose some).
Rates come from ``JOBQUEUE_THROTTLE_RATES`` (``{"enqueue": "120/min", "read": "600/min"}``;
``None`` turns that limit off), read on every request so tests may change them.
"""

import time

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F
from rest_framework.throttling import BaseThrottle, SimpleRateThrottle

from apikeys.models import Scope, ThrottleWindow
from apikeys.permissions import client_scope, required_scope


class ScopedApiThrottle(BaseThrottle):
    """At most N requests of one scope (``enqueue`` or ``read``) per client per window."""

    scope: str = ""
    timer = time.time

    def __init__(self):
        self.retry_after: float | None = None

    def allow_request(self, request, view) -> bool:
        rate = settings.JOBQUEUE_THROTTLE_RATES.get(self.scope)
        if rate is None or required_scope(request, view) != self.scope:
            return True
        limit, duration = SimpleRateThrottle.parse_rate(None, rate)
        now = self.timer()
        window_start = int(now // duration) * duration
        count = self._count(f"{self.scope}:{client_scope(request)}", window_start)
        if count <= limit:
            return True
        self.retry_after = window_start + duration - now
        return False

    def wait(self) -> float | None:
        return self.retry_after

    @staticmethod
    def _count(key: str, window_start: int) -> int:
        """Count one more request of ``key`` in the window; the window's count."""
        windows = ThrottleWindow.objects.filter(key=key, window_start=window_start)
        with transaction.atomic():
            if not windows.update(count=F("count") + 1):
                try:
                    with transaction.atomic():
                        ThrottleWindow.objects.create(key=key, window_start=window_start, count=1)
                except IntegrityError:  # another request made the window first
                    windows.update(count=F("count") + 1)
                else:
                    ThrottleWindow.objects.filter(key=key, window_start__lt=window_start).delete()
            return windows.values_list("count", flat=True).get()


class EnqueueRateThrottle(ScopedApiThrottle):
    scope = Scope.ENQUEUE


class ReadRateThrottle(ScopedApiThrottle):
    scope = Scope.READ
