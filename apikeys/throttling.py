"""Rate limits of the API, per API key (per user, per client address when open).

Counts live in Django's cache named ``JOBQUEUE_THROTTLE_CACHE`` (a database cache by
default), so every gunicorn process and every machine sees the same counts. Rates come
from ``JOBQUEUE_THROTTLE_RATES`` (``{"enqueue": "600/min", "read": "1200/min"}``; a rate
of ``None`` turns that throttle off), read on every request so tests may change them.
"""

from django.conf import settings
from django.core.cache import caches
from rest_framework.throttling import SimpleRateThrottle

from apikeys.models import Scope
from apikeys.permissions import client_scope, required_scope


class ScopedApiThrottle(SimpleRateThrottle):
    """Counts the requests of one scope (``enqueue`` or ``read``) per client."""

    scope: str = ""

    def __init__(self):
        # DRF reads the rate in __init__ from its own settings; ours are read per request.
        self.cache = caches[settings.JOBQUEUE_THROTTLE_CACHE]
        self.rate = self.get_rate()
        self.num_requests, self.duration = self.parse_rate(self.rate)

    def get_rate(self):
        return settings.JOBQUEUE_THROTTLE_RATES.get(self.scope)

    def allow_request(self, request, view):
        if required_scope(request, view) != self.scope:
            return True
        return super().allow_request(request, view)

    def get_cache_key(self, request, view):
        return self.cache_format % {"scope": self.scope, "ident": client_scope(request)}


class EnqueueRateThrottle(ScopedApiThrottle):
    scope = Scope.ENQUEUE


class ReadRateThrottle(ScopedApiThrottle):
    scope = Scope.READ
