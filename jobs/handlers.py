"""The registry of job types.

A job type is a function registered with ``@handler("name")``. It receives the job's
payload and a ``JobContext``; returning means success (a JSON-serialisable return value
of at most 64 KiB is kept as the job's ``result``), raising means a failed attempt
(retried with backoff while retries remain), and raising ``DoNotRetry`` fails the job
at once. A handler may declare a DRF serializer, which validates the payload at
``POST /jobs`` and ``enqueue()``, and a timeout in seconds.

Delivery is at-least-once: a job whose worker died is run again, so handlers should be
idempotent.

Built in: ``email``. With ``JOBQUEUE_DEMO_HANDLERS`` on: ``noop``, ``sleep``, ``echo``,
``fail``, ``flaky`` and ``sign`` (whose ``api_key`` is a sensitive field). Projects add
their own in a ``job_handlers`` module of any installed app.
"""

import hashlib
import hmac
import logging
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.core.mail import send_mail
from django.core.validators import RegexValidator
from rest_framework import serializers

from jobs.domain import Job
from jobs.retry import DoNotRetry  # noqa: F401 (handlers raise it from here; the strategy decides on it)

logger = logging.getLogger(__name__)


class Cancelled(Exception):
    """Raised by a handler that stops because ``context.cancelled`` is set: the job ends
    ``cancelled`` and is not retried."""


MAX_PROGRESS_MESSAGE = 1000


@dataclass(frozen=True)
class JobContext:
    """What a running handler may know besides its payload."""

    job: Job
    worker: str
    #: Set when the pool is shutting down; long handlers may check it and stop early.
    stopping: threading.Event
    #: Set (within one lease renewal) once ``POST /jobs/<id>/cancel`` asked this job to
    #: stop; the handler should then return or raise ``Cancelled``.
    cancelled: threading.Event = field(default_factory=threading.Event)
    #: Where ``progress()`` reports go (the pool writes them with its next lease renewal).
    on_progress: Callable[[float, str], None] | None = None

    def progress(self, fraction: float, message: str = "") -> None:
        """Report how far the job is: ``fraction`` from 0 to 1 and a short message.

        Costs no database round trip: the latest report is written with the pool's next
        lease renewal. ``ValueError`` for a fraction outside 0..1.
        """
        if isinstance(fraction, bool) or not isinstance(fraction, int | float) or not 0 <= fraction <= 1:
            raise ValueError(f"progress fraction must be a number from 0 to 1, not {fraction!r}")
        if self.on_progress is not None:
            self.on_progress(float(fraction), str(message)[:MAX_PROGRESS_MESSAGE])


HandlerFunc = Callable[[dict, JobContext], Any]


@dataclass(frozen=True)
class Handler:
    type: str
    func: HandlerFunc
    serializer: type[serializers.Serializer] | None = None
    timeout: float | None = None
    demo: bool = False
    #: Payload fields shown masked by the API and the admin (the handler gets them in full).
    sensitive_fields: frozenset[str] = frozenset()


_registry: dict[str, Handler] = {}

#: Refuses text holding CR or LF: a value that goes into a header (a subject, an
#: address) could otherwise add headers of its own (header injection). For any field of
#: a payload serializer; ``HeaderField`` is a ``CharField`` with it.
no_line_breaks = RegexValidator(
    r"[\r\n]", inverse_match=True, message="Must be one line: CR and LF are not allowed here."
)


class HeaderField(serializers.CharField):
    """A payload string that ends up in a header: one line, no CR or LF."""

    def __init__(self, **kwargs):
        kwargs.setdefault("trim_whitespace", False)
        super().__init__(**kwargs)
        self.validators.append(no_line_breaks)


def handler(
    type: str,
    *,
    serializer: type[serializers.Serializer] | None = None,
    timeout: float | None = None,
    demo: bool = False,
    sensitive_fields: Iterable[str] = (),
) -> Callable[[HandlerFunc], HandlerFunc]:
    """Register the decorated function as the handler of job type ``type``.

    ``timeout`` (seconds): an attempt running longer is recorded as failed and retried.
    ``demo``: registered only while ``JOBQUEUE_DEMO_HANDLERS`` is on.
    ``sensitive_fields``: top-level payload fields (secrets, tokens) that the API and the
    admin show as ``***``.
    Registering a type twice replaces the earlier handler (and says so in the log).
    """
    if not type or len(type) > 100:
        raise ValueError("a job type is 1 to 100 characters")
    if timeout is not None and timeout <= 0:
        raise ValueError("a handler timeout must be positive")

    def register(func: HandlerFunc) -> HandlerFunc:
        if type in _registry and _registry[type].func is not func:
            logger.warning("job type %r re-registered: %s replaces %s", type, func, _registry[type].func)
        _registry[type] = Handler(
            type=type,
            func=func,
            serializer=serializer,
            timeout=timeout,
            demo=demo,
            sensitive_fields=frozenset(sensitive_fields),
        )
        return func

    return register


def unregister(type: str) -> None:
    """Forget a job type (for tests)."""
    _registry.pop(type, None)


def get_handler(type: str) -> Handler | None:
    """The active handler of ``type``, or ``None`` when no handler is registered."""
    found = _registry.get(type)
    if found is None or (found.demo and not settings.JOBQUEUE_DEMO_HANDLERS):
        return None
    return found


def known_types() -> list[str]:
    """Names of the active job types, sorted."""
    return sorted(name for name in _registry if get_handler(name) is not None)


# --- built-in handlers ----------------------------------------------------------------


class EmailPayload(serializers.Serializer):
    to = serializers.EmailField(trim_whitespace=False, validators=[no_line_breaks])
    subject = HeaderField(max_length=998, allow_blank=True, default="")
    body = serializers.CharField(allow_blank=True, default="", trim_whitespace=False)


@handler("email", serializer=EmailPayload, timeout=60)
def send_email(payload: dict, context: JobContext) -> None:
    """Send one message through Django's mail API (``EMAIL_BACKEND`` decides where)."""
    send_mail(
        subject=payload.get("subject", ""),
        message=payload.get("body", ""),
        from_email=None,
        recipient_list=[payload["to"]],
    )


@handler("noop", demo=True)
def noop(payload: dict, context: JobContext) -> None:
    """Does nothing: for benchmarks and smoke tests."""


class SleepPayload(serializers.Serializer):
    seconds = serializers.FloatField(min_value=0, max_value=3600)


@handler("sleep", serializer=SleepPayload, demo=True)
def sleep(payload: dict, context: JobContext) -> None:
    """Sleeps ``seconds``, reporting progress every second; stops early (``Cancelled``)
    when the job is cancelled. A job that takes time, for demos and crash tests."""
    seconds = float(payload["seconds"])
    deadline = time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        # Waiting on the event (not sleeping) is what lets a cancel stop it at once.
        if context.cancelled.wait(min(1.0, left)):
            raise Cancelled(f"cancelled with {left:.1f} s of {seconds:g} s left")
        done = min(seconds, seconds - (deadline - time.monotonic()))
        context.progress(done / seconds, f"slept {done:.0f} of {seconds:g} s")


@handler("echo", demo=True)
def echo(payload: dict, context: JobContext) -> dict:
    """Returns its payload, which becomes the job's ``result``."""
    return payload


@handler("fail", demo=True)
def fail(payload: dict, context: JobContext) -> None:
    """Always raises, so the job is retried until its retries are spent."""
    raise RuntimeError(payload.get("message", "this job always fails"))


class FlakyPayload(serializers.Serializer):
    failures = serializers.IntegerField(min_value=0, max_value=1000)


@handler("flaky", serializer=FlakyPayload, demo=True)
def flaky(payload: dict, context: JobContext) -> None:
    """Fails its first ``failures`` attempts, then succeeds."""
    if context.job.retry_count < int(payload["failures"]):
        raise RuntimeError(f"flaky failure {context.job.retry_count + 1} of {payload['failures']}")


class SignPayload(serializers.Serializer):
    message = serializers.CharField(allow_blank=True, trim_whitespace=False)
    api_key = serializers.CharField()


@handler("sign", serializer=SignPayload, sensitive_fields={"api_key"}, demo=True)
def sign(payload: dict, context: JobContext) -> str:
    """Signs ``message`` with ``api_key`` (HMAC-SHA256): a job carrying a secret, which the
    API and the admin show masked."""
    digest = hmac.new(payload["api_key"].encode(), payload["message"].encode(), hashlib.sha256).hexdigest()
    logger.info("signed job %s: %s", context.job.id, digest)
    return digest
