"""Job ids: 24 hexadecimal digits laid out like a MongoDB ObjectId, made without bson.

Every store makes ids of this one shape, so the API, the cursors and the admin treat ids
the same whichever store holds the job, and the SQL store needs no MongoDB driver. The
layout (4-byte seconds since the epoch, 5 random bytes per process, a 3-byte counter
starting at a random value) makes ids unique across processes and roughly ordered by
creation time, as ObjectIds are.
"""

import itertools
import os
import threading
import time

_COUNTER_MASK = 0xFFFFFF


def _new_process_state() -> None:
    """A fresh random part and counter: called at import and again in every forked child,
    so a parent and its children never share both."""
    global _process_random, _counter
    _process_random = os.urandom(5)
    _counter = itertools.count(int.from_bytes(os.urandom(3), "big"))


_process_random: bytes
_counter: itertools.count
_lock = threading.Lock()
_new_process_state()
os.register_at_fork(after_in_child=_new_process_state)


def new_job_id() -> str:
    """A new 24-hex id, ObjectId-compatible (a MongoDB store may parse it as one)."""
    with _lock:
        count = next(_counter) & _COUNTER_MASK
    seconds = int(time.time()) & 0xFFFFFFFF
    return (seconds.to_bytes(4, "big") + _process_random + count.to_bytes(3, "big")).hex()


def new_job_ids(count: int) -> list[str]:
    """``count`` new ids, as ``new_job_id`` makes them: one lock and
    one clock read for the lot (a bulk insert makes up to a thousand)."""
    with _lock:
        counts = [next(_counter) & _COUNTER_MASK for _ in range(count)]
    prefix = ((int(time.time()) & 0xFFFFFFFF).to_bytes(4, "big") + _process_random).hex()
    return [f"{prefix}{number:06x}" for number in counts]
