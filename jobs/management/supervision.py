"""Child processes that never outlive their parent, restarted with a backoff when they die.

``manage.py serve`` runs the web server processes and the worker pool as children. On
Linux each child asks the kernel for SIGKILL when its parent dies
(``prctl(PR_SET_PDEATHSIG)``), so even a ``kill -9`` of ``serve`` (or the OOM killer)
leaves no process behind to hold the port or run jobs. A child that dies while the
service runs is started again after a backoff that doubles on every fast failure; a
child that keeps failing fast makes the whole service give up, with a clear message.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field

logger = logging.getLogger(__name__)

_PR_SET_PDEATHSIG = 1

# A child that dies sooner than this after starting failed "fast".
FAST_FAILURE_SECONDS = 10.0
# Give up after this many fast failures in a row of one child.
MAX_FAST_FAILURES = 5
FIRST_BACKOFF_SECONDS = 0.5
MAX_BACKOFF_SECONDS = 8.0


def _libc():
    if not sys.platform.startswith("linux"):
        return None
    return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)


def die_with_parent_hook():
    """A ``preexec_fn`` that makes the child get SIGKILL when this process dies (Linux;
    elsewhere ``None``: children then outlive a SIGKILLed parent)."""
    libc = _libc()
    if libc is None:
        return None
    parent = os.getpid()

    def preexec():
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        if os.getppid() != parent:  # the parent died before prctl took effect
            os._exit(1)

    return preexec


@dataclass
class Child:
    """One supervised command and its restart bookkeeping."""

    name: str
    command: list[str]
    pass_fds: tuple[int, ...] = ()
    process: subprocess.Popen | None = None
    started_at: float = 0.0
    fast_failures: int = 0
    restart_at: float | None = None
    restarts: int = field(default=0)

    def backoff(self, first: float) -> float:
        """Seconds to wait before the next start: ``first``, doubling per fast failure."""
        return min(MAX_BACKOFF_SECONDS, first * 2 ** max(0, self.fast_failures - 1))


class GaveUp(Exception):
    """A child failed fast ``MAX_FAST_FAILURES`` times in a row."""


class Supervisor:
    """Start ``children``, restart any that dies, stop all on SIGINT/SIGTERM/SIGHUP.

    ``run()`` returns when every child has stopped after a stop signal (a second signal
    kills them at once), or raises ``GaveUp`` after stopping the rest.
    """

    def __init__(self, children: list[Child], *, cwd, log=None, first_backoff: float = FIRST_BACKOFF_SECONDS):
        self.children = children
        self.first_backoff = first_backoff
        self.cwd = cwd
        self.log = log or logger.warning
        self.stop_signals: list[int] = []
        self._wake = threading.Event()

    def run(self) -> None:
        for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(signum, self._on_signal)
        for child in self.children:
            self._start(child)
        try:
            while not self.stop_signals:
                self._tend()
                self._wake.wait(0.1)
                self._wake.clear()
        except GaveUp:
            self._signal_all(signal.SIGTERM)
            self._wait_all()
            raise
        self._wait_all()

    def _on_signal(self, signum, frame):
        self.stop_signals.append(signum)
        self._signal_all(signal.SIGTERM if len(self.stop_signals) == 1 else signal.SIGKILL)
        self._wake.set()

    def _start(self, child: Child) -> None:
        child.process = subprocess.Popen(
            child.command,
            cwd=self.cwd,
            pass_fds=child.pass_fds,
            # Its own session: a terminal's Ctrl-C reaches only `serve`, which stops the
            # children in order; the kernel still kills them if `serve` dies.
            start_new_session=True,
            preexec_fn=die_with_parent_hook(),
        )
        child.started_at = time.monotonic()
        child.restart_at = None

    def _tend(self) -> None:
        now = time.monotonic()
        for child in self.children:
            if child.restart_at is not None:
                if now >= child.restart_at:
                    child.restarts += 1
                    self.log(f"restarting {child.name} (restart {child.restarts})")
                    self._start(child)
                continue
            code = child.process.poll()
            if code is None:
                continue
            lived = now - child.started_at
            child.fast_failures = child.fast_failures + 1 if lived < FAST_FAILURE_SECONDS else 0
            if child.fast_failures >= MAX_FAST_FAILURES:
                raise GaveUp(
                    f"{child.name} failed {child.fast_failures} times in a row within "
                    f"{FAST_FAILURE_SECONDS:g} s of starting (last exit code {code}); giving up"
                )
            delay = child.backoff(self.first_backoff)
            self.log(
                f"{child.name} (pid {child.process.pid}) exited with code {code} after {lived:.1f} s; "
                f"restarting in {delay:g} s"
            )
            child.restart_at = now + delay

    def _signal_all(self, signum) -> None:
        for child in self.children:
            if child.process is not None and child.process.poll() is None:
                child.process.send_signal(signum)

    def _wait_all(self) -> None:
        for child in self.children:
            if child.process is not None:
                while child.process.poll() is None:
                    self._wake.wait(0.1)
                    self._wake.clear()
