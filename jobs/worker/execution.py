"""Running one job: call its handler (with its timeout) and say what became of it.

Nothing is written here: the result goes back to the pool, which records it. A handler
with a ``timeout`` runs on a thread of its own; when it outlives the timeout the attempt
is recorded as "timed out", and the thread, which Python cannot kill, is abandoned: its
late result is never written.
"""

import contextvars
import json
import logging
import threading
import traceback
from collections.abc import Callable
from datetime import datetime
from typing import Any

from django.db import connections

from jobs.domain import Attempt, Job, Outcome
from jobs.handlers import Cancelled as CancelledByHandler
from jobs.handlers import Handler, JobContext, get_handler
from jobs.logcontext import job_log_context
from jobs.results import Cancelled, Completed, JobResult, after_failure
from jobs.retry import RetryAt, RetryStrategy
from jobs.timeutil import Clock

logger = logging.getLogger(__name__)

#: An attempt's error keeps the exception's message and the end of its traceback.
ERROR_TRACEBACK_LINES = 20
ERROR_MAX_CHARS = 4096
_MESSAGE_MAX_CHARS = 1024
#: The largest result kept, as compact UTF-8 JSON.
MAX_RESULT_BYTES = 64 * 1024


class JobTimedOut(Exception):
    """A handler ran past its timeout; its thread was abandoned."""


class UnknownJobType(Exception):
    """No handler is registered in this worker for the job's type."""


class InvalidResult(Exception):
    """A handler returned a value the job cannot keep as its ``result``."""


def checked_result(value: Any) -> Any:
    """``value`` as a storable result (JSON, at most ``MAX_RESULT_BYTES``); ``InvalidResult`` otherwise."""
    if value is None:
        return None
    try:
        encoded = json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError) as error:
        raise InvalidResult(f"the handler's return value is not JSON: {error}") from None
    size = len(encoded.encode("utf-8", errors="surrogatepass"))
    if size > MAX_RESULT_BYTES:
        raise InvalidResult(f"the handler's return value is {size} bytes of JSON; the limit is {MAX_RESULT_BYTES}")
    return json.loads(encoded)


def describe_error(error: BaseException) -> str:
    """What an attempt records about ``error``: ``Type: message``, then the last
    ``ERROR_TRACEBACK_LINES`` lines of its traceback, ``ERROR_MAX_CHARS`` at most."""
    message = str(error)
    headline = f"{type(error).__name__}: {message}" if message else type(error).__name__
    if len(headline) > _MESSAGE_MAX_CHARS:
        headline = headline[: _MESSAGE_MAX_CHARS - 1] + "…"
    if error.__traceback__ is None:
        return headline
    lines = "".join(traceback.format_exception(error)).splitlines()
    trace = "\n".join(lines[-ERROR_TRACEBACK_LINES:])
    room = ERROR_MAX_CHARS - len(headline) - 2
    if len(trace) > room:
        trace = "…" + trace[-(room - 1) :]
    return f"{headline}\n\n{trace}"


class Executor:
    """Runs handlers for one pool (``worker_id``); keeps the threads it had to abandon."""

    def __init__(self, *, worker_id: str, clock: Clock, retry_strategy: RetryStrategy, stopping: threading.Event):
        self.worker_id = worker_id
        self.clock = clock
        self.retry_strategy = retry_strategy
        self.stopping = stopping
        self._lock = threading.Lock()
        self._abandoned: list[threading.Thread] = []

    def abandoned_alive(self) -> int:
        """Timed-out handler threads still running."""
        with self._lock:
            self._abandoned = [thread for thread in self._abandoned if thread.is_alive()]
            return len(self._abandoned)

    def execute(
        self,
        job: Job,
        started_at: datetime,
        *,
        cancelled: threading.Event | None = None,
        on_progress: Callable[[float, str], None] | None = None,
    ) -> JobResult:
        """Run ``job``'s handler, started at ``started_at``, and say what became of it.

        ``cancelled`` is the event the handler sees as ``context.cancelled``; a handler
        that raises ``Cancelled``, or ends in any way once it is set, makes the job
        ``Cancelled``. ``on_progress`` receives ``context.progress()`` reports.
        """
        context = JobContext(
            job=job,
            worker=self.worker_id,
            stopping=self.stopping,
            cancelled=cancelled or threading.Event(),
            on_progress=on_progress,
        )
        with job_log_context(job, worker=self.worker_id):
            return self._execute(job, started_at, context)

    def _execute(self, job: Job, started_at: datetime, context: JobContext) -> JobResult:
        handler = get_handler(job.type)
        try:
            if handler is None:
                raise UnknownJobType(f"no handler for job type {job.type!r} in this worker")
            if handler.timeout is None:
                value = handler.func(job.payload, context)
            else:
                value = self._call_with_timeout(handler, job, context)
            if not context.cancelled.is_set():
                value = checked_result(value)
        except JobTimedOut as error:
            return self._failure(job, started_at, Outcome.TIMED_OUT, error)
        except BaseException as error:  # a handler's failure of any kind is the job's, not the pool's
            if isinstance(error, CancelledByHandler) or context.cancelled.is_set():
                return self._cancelled(job, started_at, error)
            return self._failure(job, started_at, Outcome.FAILED, error)
        if context.cancelled.is_set():
            return self._cancelled(job, started_at, None)
        attempt = Attempt(
            started_at=started_at, finished_at=self.clock(), worker=self.worker_id, outcome=Outcome.COMPLETED
        )
        return Completed(job, attempt, result=value)

    def _cancelled(self, job: Job, started_at: datetime, error: BaseException | None) -> Cancelled:
        logger.info("job %s (%s) stopped: it was cancelled", job.id, job.type)
        attempt = Attempt(
            started_at=started_at,
            finished_at=self.clock(),
            worker=self.worker_id,
            outcome=Outcome.CANCELLED,
            error=describe_error(error) if error is not None else "cancelled while running",
        )
        return Cancelled(job, attempt)

    def _call_with_timeout(self, handler: Handler, job: Job, context: JobContext) -> Any:
        """Run the handler on a thread of its own and stop waiting after its timeout; its return value."""
        raised: list[BaseException] = []
        returned: list[Any] = []
        done = threading.Event()

        def run_handler():
            try:
                returned.append(handler.func(job.payload, context))
            except BaseException as error:
                raised.append(error)
            finally:
                done.set()
                connections.close_all()

        # The handler's own log lines carry the job's fields too (see jobs.logcontext).
        log_context = contextvars.copy_context()
        thread = threading.Thread(target=log_context.run, args=(run_handler,), name=f"job-{job.id}", daemon=True)
        thread.start()
        if not done.wait(handler.timeout):
            with self._lock:
                self._abandoned.append(thread)
            logger.warning(
                "job %s (%s) ran past its %g s timeout; its thread is abandoned and its result will be ignored",
                job.id,
                job.type,
                handler.timeout,
            )
            raise JobTimedOut(f"ran longer than the handler's {handler.timeout:g} s timeout")
        if raised:
            raise raised[0]
        return returned[0]

    def _failure(self, job: Job, started_at: datetime, outcome: str, error: BaseException) -> JobResult:
        finished_at = self.clock()
        attempt = Attempt(
            started_at=started_at,
            finished_at=finished_at,
            worker=self.worker_id,
            outcome=outcome,
            error=describe_error(error),
        )
        decision = self.retry_strategy.decide(job, error, finished_at)
        if isinstance(decision, RetryAt):
            logger.warning(
                "job %s (%s) attempt %d of %d %s (%s); retrying in %.1f s",
                job.id,
                job.type,
                job.retry_count + 1,
                job.max_retries + 1,
                outcome,
                attempt.error.splitlines()[0],
                (decision.run_at - finished_at).total_seconds(),
            )
        else:
            logger.error(
                "job %s (%s) failed for good after %d attempts: %s",
                job.id,
                job.type,
                job.retry_count + 1,
                attempt.error.splitlines()[0],
            )
        return after_failure(job, attempt, decision)
