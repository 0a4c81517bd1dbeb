"""``SqlJobStore``: the embedded store, composed of one part per concern, each a
``SqlConnection`` (``connection.py``) that adds the ``JobStore`` methods of its concern.

The parts share nothing but the connection plumbing, so a change to one concern stays in
its module; the hot paths call their statements directly, with no layer in between.
"""

from __future__ import annotations

from jobs.stores.base import translate_errors
from jobs.stores.sql.actions import OperatorActions
from jobs.stores.sql.claims import Claims
from jobs.stores.sql.connection import as_unavailable
from jobs.stores.sql.enqueue import EnqueueAndRead
from jobs.stores.sql.leases import HeldJobs
from jobs.stores.sql.pools import PoolRegistry
from jobs.stores.sql.queues import NamedQueues
from jobs.stores.sql.retention import Retention
from jobs.stores.sql.schedules import Schedules
from jobs.stores.sql.statistics import Statistics


@translate_errors(as_unavailable)
class SqlJobStore(
    EnqueueAndRead,
    Claims,
    HeldJobs,
    OperatorActions,
    Retention,
    NamedQueues,
    Statistics,
    PoolRegistry,
    Schedules,
):
    """Jobs in a Django database (``using`` names the alias, ``default`` unless told)."""

    kind = "sql"
