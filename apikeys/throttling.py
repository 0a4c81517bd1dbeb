"""Rate limits of the API, per API key (per user, per client address when open).

A fixed-window counter per client and scope (``apikeys.throttle_counters``): every web
server process counts together, and the count goes up in one statement, so concurrent
requests are all counted (a cache's read-modify-write would lose some).
Rates come from ``JOBQUEUE_THROTTLE_RATES`` (``{"enqueue": "120/min", "read": "600/min"}``;
``None`` turns that limit off), read on every request so tests may change them.
"""

import time

from django.conf import settings
from rest_framework.throttling import BaseThrottle, SimpleRateThrottle

from apikeys import throttle_counters
from apikeys.models import Scope
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
        count = throttle_counters.count_request(f"{self.scope}:{client_scope(request)}", window_start)
        if count <= limit:
            return True
        self.retry_after = window_start + duration - now
        return False

    def wait(self) -> float | None:
        return self.retry_after


class EnqueueRateThrottle(ScopedApiThrottle):
    scope = Scope.ENQUEUE


class ReadRateThrottle(ScopedApiThrottle):
    scope = Scope.READ
