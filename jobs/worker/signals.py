"""Signals: the first SIGTERM/SIGINT drains a pool, a second one exits at once."""

import contextlib
import logging
import os
import signal
import sys
from collections.abc import Iterable

from jobs.worker.pool import WorkerPool

logger = logging.getLogger(__name__)

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


def exit_now(code: int) -> None:
    """Leave the process at once (no draining), after flushing what was logged."""
    for handler in logging.getLogger().handlers + logging.getLogger("jobs").handlers:
        with contextlib.suppress(Exception):  # best effort on the way out
            handler.flush()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def run_until_signalled(pool: WorkerPool, *, signals: Iterable[int] = STOP_SIGNALS) -> None:
    """Run ``pool`` in the main thread: the first signal drains it, a second exits at once."""

    def on_signal(signum, frame):
        name = signal.Signals(signum).name
        if not pool.stopping:
            logger.info(
                "%s received: no new jobs; finishing running ones (up to %g s). Send it again to exit at once.",
                name,
                pool.options.grace_period,
            )
            pool.stop()
        else:
            logger.warning("second %s: exiting now; unfinished jobs run again when their leases expire", name)
            exit_now(128 + signum)

    previous = {signum: signal.signal(signum, on_signal) for signum in signals}
    try:
        pool.run()
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
