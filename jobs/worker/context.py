"""What the parts of one pool share: who it is, how it is configured, what it holds,
which store it talks to and which clock it reads."""

from collections.abc import Callable
from dataclasses import dataclass

from jobs.stores import JobStore
from jobs.timeutil import Clock
from jobs.worker.holdings import Holdings
from jobs.worker.options import PoolOptions


@dataclass(frozen=True)
class PoolContext:
    """Handed to the dispatcher, the recorder and the lease keeper of one pool."""

    worker_id: str
    options: PoolOptions
    holdings: Holdings
    store: Callable[[], JobStore]  # the pool's store, resolved at first use
    clock: Clock
