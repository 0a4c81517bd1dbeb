"""``MongoJobStore``: the parts of the MongoDB store, one per concern, made one ``JobStore``."""

from jobs.stores.mongo.actions import OperatorActions
from jobs.stores.mongo.claims import Claims
from jobs.stores.mongo.enqueue import EnqueueAndRead
from jobs.stores.mongo.leases import HeldJobs
from jobs.stores.mongo.pools import PoolRegistry
from jobs.stores.mongo.queues import NamedQueues
from jobs.stores.mongo.retention import Retention
from jobs.stores.mongo.schedules import Schedules
from jobs.stores.mongo.statistics import Statistics
from jobs.stores.mongo.watch import InsertWatch


class MongoJobStore(
    EnqueueAndRead,
    Claims,
    HeldJobs,
    OperatorActions,
    Retention,
    NamedQueues,
    Statistics,
    PoolRegistry,
    Schedules,
    InsertWatch,
):
    """Jobs in a MongoDB database.

    Build it with ``from_uri`` (or ``from_options``, as ``JOBQUEUE_STORE`` does); each
    base class brings the operations of one concern, all on the client, database and
    collections of ``MongoConnection``.
    """
