"""A writer queue for one SQLite file, shared by every process and thread that writes it.

SQLite admits one writer at a time. A writer that finds the file locked sleeps in its
busy handler (1, 2, 5 … up to 100 ms) and tries again, so under steady contention (the
web processes' group commits and the worker pool's turns) a waiter can lose the race
again and again: with three processes committing in a loop, single transactions waited
0.8 to 2.9 s. Here a transaction first takes an exclusive ``flock`` on a lock file next to
the database. A waiter blocks in the kernel and is woken the moment the holder lets go,
so the lock passes from writer to writer without polling; the same three processes then
waited at most 40 to 120 ms. The kernel drops the lock of a process that dies.

A blocking ``flock`` cannot be given a timeout, and a caller must still hear "locked"
within the store timeout (a process stopped while it holds the lock must not hang every
other writer). So a contended acquire blocks in a short-lived thread of its own while
the caller waits at most until its deadline; a wait given up releases the lock as soon as
that thread gets it. While ``MAX_ABANDONED_WAITS`` given-up waits of this process still
block (the holder is stuck), a contended acquire polls instead, so a stuck holder cannot
pile up threads.
"""

import fcntl
import os
import threading
import time
from collections import Counter

#: Given-up waits per lock file that may still block in a thread of this process.
MAX_ABANDONED_WAITS = 4
#: How often a polling acquire tries again.
POLL_INTERVAL_SECONDS = 0.001

_abandoned_lock = threading.Lock()
_abandoned: Counter[str] = Counter()  # lock file path -> given-up waits still blocking


def _open(path: str) -> int:
    return os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)


class WriterLock:
    """One connection's handle on the writer queue of the lock file at ``path``.

    Not thread-safe: like the connection it belongs to, one thread uses it at a time.
    """

    def __init__(self, path: str):
        self.path = path
        self._fd = _open(path)
        self._held: int | None = None  # the descriptor holding the lock, when held

    @property
    def held(self) -> bool:
        return self._held is not None

    def acquire(self, timeout: float) -> bool:
        """Take the lock, waiting at most ``timeout`` seconds; whether it was taken.
        Taking it again while held is a no-op that returns ``True``."""
        if self._held is not None:
            return True
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            with _abandoned_lock:
                stuck = _abandoned[self.path] >= MAX_ABANDONED_WAITS
            self._held = self._poll(timeout) if stuck else _ContendedWait(self.path).wait(timeout)
            return self._held is not None
        self._held = self._fd
        return True

    def _poll(self, timeout: float) -> int | None:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return self._fd
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    return None
                time.sleep(POLL_INTERVAL_SECONDS)

    def release(self) -> None:
        """Let the next writer in; a no-op when not held."""
        held, self._held = self._held, None
        if held is None:
            return
        fcntl.flock(held, fcntl.LOCK_UN)
        if held != self._fd:
            os.close(held)

    def close(self) -> None:
        """Release the lock and close the lock file."""
        self.release()
        os.close(self._fd)


class _ContendedWait:
    """A blocking ``flock`` on a descriptor of its own, in a thread the caller can stop
    waiting for."""

    def __init__(self, path: str):
        self._path = path
        self._fd = _open(path)
        self._decided = threading.Lock()
        self._granted = threading.Event()
        self._abandoned = False

    def wait(self, timeout: float) -> int | None:
        """The descriptor now holding the lock, or ``None`` if ``timeout`` passed first."""
        threading.Thread(target=self._block, name="sqlite-writer-lock", daemon=True).start()
        deadline = time.monotonic() + timeout
        self._granted.wait(max(deadline - time.monotonic(), 0))
        with self._decided:
            if self._granted.is_set():
                return self._fd
            self._abandoned = True
            with _abandoned_lock:
                _abandoned[self._path] += 1
        return None

    def _block(self) -> None:
        fcntl.flock(self._fd, fcntl.LOCK_EX)
        with self._decided:
            if not self._abandoned:
                self._granted.set()
                return
        # The caller gave up: pass the lock straight on.
        fcntl.flock(self._fd, fcntl.LOCK_UN)
        os.close(self._fd)
        with _abandoned_lock:
            _abandoned[self._path] -= 1
