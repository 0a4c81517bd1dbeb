"""API keys: who may call the HTTP API, for what, within which limits.

A key is shown once, when it is made; only its SHA-256 is stored (the key is 256 random
bits, so a plain hash is as strong as a slow one). Clients send it as
``Authorization: Bearer <key>``. The key begins with a public prefix that finds its row;
the hash is then compared in constant time.
"""

import hashlib
import hmac
import secrets
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection, models
from django.utils import timezone

KEY_MARKER = "jq_"
PREFIX_LENGTH = 8


class Scope(models.TextChoices):
    READ = "read", "read: GET /jobs…, GET /stats"
    ENQUEUE = "enqueue", "enqueue: POST /jobs"
    MANAGE = "manage", "manage: change existing jobs"


def hash_key(raw_key: str) -> str:
    return hashlib.sha256(raw_key.encode("utf-8")).hexdigest()


def parse_scopes(text: str) -> list[str]:
    """``"enqueue, read"`` as ``["enqueue", "read"]``; ``ValueError`` naming an unknown scope."""
    scopes = sorted({item.strip() for item in text.split(",") if item.strip()})
    unknown = [scope for scope in scopes if scope not in Scope.values]
    if unknown:
        raise ValueError(f"unknown scope {', '.join(unknown)}; scopes are {', '.join(Scope.values)}")
    if not scopes:
        raise ValueError(f"give at least one scope of {', '.join(Scope.values)}")
    return scopes


class ApiKey(models.Model):
    """One client's key. ``job_types`` empty means any type; ``max_priority`` null means any."""

    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=PREFIX_LENGTH, unique=True, editable=False)
    key_hash = models.CharField(max_length=64, editable=False)
    scopes = models.JSONField(default=list, help_text="read, enqueue, manage")
    job_types = models.JSONField(default=list, blank=True, help_text="job types it may enqueue; empty: any")
    max_priority = models.IntegerField(null=True, blank=True, help_text="highest priority it may give; empty: any")
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)
    revoked_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        verbose_name = "API key"
        ordering = ["-created_at"]

    def __str__(self):
        return f"{self.name} ({self.prefix}…)"

    @classmethod
    def create_key(cls, name: str, *, scopes, job_types=(), max_priority=None) -> tuple["ApiKey", str]:
        """A new stored key and its secret, which is never seen again."""
        api_key = cls(name=name, scopes=sorted(scopes), job_types=sorted(job_types), max_priority=max_priority)
        raw_key = api_key.assign_new_secret()
        api_key.save()
        return api_key, raw_key

    def assign_new_secret(self) -> str:
        """Give this (unsaved) key a fresh secret; return it."""
        prefix = secrets.token_hex(PREFIX_LENGTH // 2)
        raw_key = f"{KEY_MARKER}{prefix}_{secrets.token_urlsafe(32)}"
        self.prefix = prefix
        self.key_hash = hash_key(raw_key)
        return raw_key

    @classmethod
    def find_active(cls, raw_key: str) -> "ApiKey | None":
        """The unrevoked key whose secret is ``raw_key``, or ``None``."""
        if not raw_key.startswith(KEY_MARKER):
            return None
        prefix = raw_key[len(KEY_MARKER) : len(KEY_MARKER) + PREFIX_LENGTH]
        # Every keyed request runs this lookup (a revoked key must stop working at once, in
        # every process, so it is not cached). Built by the ORM (filter, first) it took
        # 500 µs, against 150 µs for the same query through Manager.raw: building the query
        # was most of it. The prefix is unique, so the query needs no ordering.
        quote = connection.ops.quote_name
        active_by_prefix = (
            f"SELECT * FROM {quote(cls._meta.db_table)} WHERE {quote('prefix')} = %s AND {quote('revoked_at')} IS NULL"
        )
        candidate = next(iter(cls.objects.raw(active_by_prefix, [prefix])), None)
        if candidate is None or not hmac.compare_digest(candidate.key_hash, hash_key(raw_key)):
            return None
        return candidate

    def record_use(self, now: datetime) -> bool:
        """Set ``last_used_at`` to ``now`` unless it is already within
        ``JOBQUEUE_API_KEY_TOUCH_INTERVAL`` seconds of it; whether it was written.

        A coarse "last seen", as GitHub's and django-rest-knox's: the row was read anyway to
        authenticate, so comparing with it costs nothing and holds across processes, and a
        busy key costs one durable write a minute instead of one per request (on SQLite each
        is a commit that queues at the writer lock with the jobs' own). The key was last used
        at ``last_used_at`` or up to the interval later.
        """
        last_used_at = self.last_used_at
        interval = timedelta(seconds=settings.JOBQUEUE_API_KEY_TOUCH_INTERVAL)
        if last_used_at is not None and last_used_at <= now < last_used_at + interval:
            return False
        type(self).objects.filter(pk=self.pk).update(last_used_at=now)
        self.last_used_at = now
        return True

    @property
    def is_revoked(self) -> bool:
        return self.revoked_at is not None

    def revoke(self) -> None:
        if self.revoked_at is None:
            self.revoked_at = timezone.now()
            self.save(update_fields=["revoked_at"])

    def has_scope(self, scope: str) -> bool:
        return scope in self.scopes

    def allows_type(self, job_type: str) -> bool:
        return not self.job_types or job_type in self.job_types

    def allows_priority(self, priority: int) -> bool:
        return self.max_priority is None or priority <= self.max_priority


class ThrottleWindow(models.Model):
    """Requests of one client in one fixed time window, for the API's rate limits.

    Used when the main database is a server one (``JOBQUEUE_THROTTLE_SQLITE`` is
    ``None``): every web server process and machine counts together, and one UPDATE
    increments it so that concurrent requests are all counted. See
    ``apikeys.throttle_counters``.
    """

    key = models.CharField(max_length=200)
    window_start = models.BigIntegerField(help_text="UNIX time the window starts")
    count = models.IntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["key", "window_start"], name="throttle_window_unique")]

    def __str__(self):
        return f"{self.key} @ {self.window_start}: {self.count}"
