"""The worker: a pool of threads per process that claims jobs, runs their handlers and
records the results, and a supervisor for several processes.

Modules, one concern each: ``options`` (configuration), ``pool`` (threads, start,
drain and stop), ``dispatcher`` (each turn: record results, then claim), ``execution``
(running one job: handler, timeout, failure), ``recorder`` (writing results without
dropping any), ``leases`` (renew, reap, registry heartbeat, health), ``watcher``
(inserts pushed by the store), ``holdings`` and ``context`` (what a pool's parts
share), ``signals`` (SIGTERM/SIGINT) and ``supervisor`` (``--processes``).
"""

from jobs.worker.execution import ERROR_MAX_CHARS, ERROR_TRACEBACK_LINES, JobTimedOut, UnknownJobType, describe_error
from jobs.worker.options import PoolOptions
from jobs.worker.pool import WorkerPool, new_pool_id
from jobs.worker.signals import STOP_SIGNALS, exit_now, run_until_signalled
from jobs.worker.supervisor import EXIT_RECYCLE, ProcessSupervisor, describe_exit

__all__ = [
    "ERROR_MAX_CHARS",
    "ERROR_TRACEBACK_LINES",
    "EXIT_RECYCLE",
    "STOP_SIGNALS",
    "JobTimedOut",
    "PoolOptions",
    "ProcessSupervisor",
    "UnknownJobType",
    "WorkerPool",
    "describe_error",
    "describe_exit",
    "exit_now",
    "new_pool_id",
    "run_until_signalled",
]
