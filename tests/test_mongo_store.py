"""What only the MongoDB store does: URIs, write concern, reachability, indexes, documents,
round trips and change streams. Behaviour shared with the SQL store is in
``test_store_contract.py``.

Nothing here needs a MongoDB server: mongomock stands in, and the unreachable-server
cases use real pymongo against a closed local port.
"""

import threading
import time
import traceback
from datetime import UTC, datetime, timedelta

import pytest
from bson import ObjectId
from pymongo.errors import DuplicateKeyError

from conftest import discard_store, make_store
from jobs.domain import Attempt, NewJob, PoolInfo
from jobs.results import Completed
from jobs.retry import RetryStrategy
from jobs.stores.base import StoreUnavailable
from jobs.stores.mongo import MongoJobStore, redact_uri
from tests.mongomock_store import MongomockJobStore
from tests.results_support import record
from tests.roundtrip_support import counting

# Nothing listens on port 1; connecting is refused at once.
CLOSED_PORT_URI = "mongodb://jq:hunter2@127.0.0.1:1/jobs_prod?authSource=admin"
# pymongo rejects it (a port must be digits); its password must not leak through the error.
INVALID_URI = "mongodb://jq:hunter2@127.0.0.1:notaport/jobs"
NOW = datetime(2026, 2, 2, 5, 30, 0, 123000, tzinfo=UTC)


@pytest.fixture
def mock_store():
    store = MongomockJobStore("jobqueue_test")
    store.ensure_ready()
    yield store
    store.close()


@pytest.fixture
def uri_store():
    """Build stores from URIs (no server needed until an operation) and close them after."""
    stores = []

    def build(uri, **options):
        store = MongoJobStore.from_uri(uri, **options)
        stores.append(store)
        return store

    yield build
    for store in stores:
        store.close()


def _new_jobs(store, count, *, now=NOW, **fields):
    return [
        store.insert(NewJob(type="email", payload={"n": n}, max_retries=3, **fields), now=now) for n in range(count)
    ]


# --- URIs ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("uri", "expected"),
    [
        ("mongodb://app:s3cret@db:27017/jobs", "mongodb://app:***@db:27017/jobs"),
        (
            "mongodb://app:s3cret@db1:27017,db2:27017/?replicaSet=rs0",
            "mongodb://app:***@db1:27017,db2:27017/?replicaSet=rs0",
        ),
        ("mongodb+srv://app:s3cret@cluster0.example.net/jobs", "mongodb+srv://app:***@cluster0.example.net/jobs"),
        ("mongodb://app:p%40ss@db/jobs", "mongodb://app:***@db/jobs"),
        ("mongodb://app:p@ss@db/jobs", "mongodb://app:***@db/jobs"),
        ("mongodb://app@db/jobs", "mongodb://app@db/jobs"),
        ("mongodb://db:27017/jobs?w=majority", "mongodb://db:27017/jobs?w=majority"),
    ],
)
def test_redact_uri_hides_the_password_and_keeps_the_rest(uri, expected):
    assert redact_uri(uri) == expected


def test_redact_uri_hides_a_password_with_an_unescaped_slash():
    redacted = redact_uri("mongodb://app:pa/ss@db:27017/jobs")

    assert "pa/ss" not in redacted and "ss@" not in redacted
    assert redacted.endswith("@db:27017/jobs")


def test_redact_uri_hides_secret_options():
    uri = "mongodb://db/jobs?tls=true&tlsCertificateKeyFilePassword=kpw&authMechanismProperties=AWS_SESSION_TOKEN:tok"

    redacted = redact_uri(uri)

    assert "kpw" not in redacted and "tok" not in redacted
    assert redacted == "mongodb://db/jobs?tls=true&tlsCertificateKeyFilePassword=***&authMechanismProperties=***"


def test_database_name_comes_from_the_uri_path(uri_store):
    assert uri_store("mongodb://127.0.0.1:1/orders").database_name == "orders"


def test_database_name_defaults_to_jobqueue(uri_store):
    assert uri_store("mongodb://127.0.0.1:1").database_name == "jobqueue"
    assert uri_store("mongodb://127.0.0.1:1/?w=1").database_name == "jobqueue"


def test_explicit_database_name_overrides_the_uri(uri_store):
    assert uri_store("mongodb://127.0.0.1:1/orders", database_name="other").database_name == "other"


def test_describe_names_hosts_and_database_without_password(uri_store):
    store = uri_store("mongodb://jq:hunter2@db1:27017,db2:27017/jobs?replicaSet=rs0")

    assert store.describe() == "MongoDB at db1:27017,db2:27017, database jobs"


def test_describe_a_mongomock_store(mock_store):
    assert mock_store.describe() == "MongoDB at mongomock (in memory), database jobqueue_test"


# --- write concern ------------------------------------------------------------------


def test_writes_are_majority_journaled_by_default(uri_store):
    store = uri_store("mongodb://127.0.0.1:1/jobs")

    assert store._jobs.write_concern.document == {"w": "majority", "j": True}
    assert store._pools.write_concern.document == {"w": "majority", "j": True}


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        ("w=1", {"w": 1}),
        ("journal=false", {"j": False}),
        ("w=2&journal=true", {"w": 2, "j": True}),
    ],
)
def test_write_concern_set_in_the_uri_is_respected(uri_store, options, expected):
    store = uri_store(f"mongodb://127.0.0.1:1/jobs?{options}")

    assert store._jobs.write_concern.document == expected


def test_majority_default_keeps_a_write_timeout_from_the_uri(uri_store):
    store = uri_store("mongodb://127.0.0.1:1/jobs?wtimeoutMS=2500")

    assert store._jobs.write_concern.document == {"w": "majority", "j": True, "wtimeout": 2500}


# --- an unreachable server -----------------------------------------------------------


def test_unreachable_server_fails_fast_with_a_clear_message_and_no_password(uri_store):
    store = uri_store(CLOSED_PORT_URI, timeout_seconds=0.5)

    started = time.monotonic()
    with pytest.raises(StoreUnavailable) as raised:
        store.ensure_ready()
    elapsed = time.monotonic() - started

    message = str(raised.value)
    assert message.startswith("cannot reach MongoDB at mongodb://jq:***@127.0.0.1:1/jobs_prod?authSource=admin: ")
    assert "127.0.0.1:1" in message.partition("authSource=admin: ")[2]  # the driver's reason follows
    assert "hunter2" not in "".join(traceback.format_exception(raised.value))
    assert elapsed < 10


def test_losing_the_server_mid_operation_raises_store_unavailable(uri_store):
    store = uri_store(CLOSED_PORT_URI, timeout_seconds=0.3)

    with pytest.raises(StoreUnavailable, match=r"^lost connection to MongoDB at 127\.0\.0\.1:1, database jobs_prod"):
        store.get("0123456789abcdef01234567")


def test_invalid_uri_is_reported_without_its_password():
    with pytest.raises(StoreUnavailable, match=r"^invalid MongoDB URI ") as raised:
        MongoJobStore.from_uri(INVALID_URI)

    assert "hunter2" not in "".join(traceback.format_exception(raised.value))


# --- indexes ------------------------------------------------------------------------


def test_ensure_ready_creates_every_index_and_is_idempotent(mock_store):
    mock_store.ensure_ready()  # the fixture already ran it once

    jobs_indexes = {index["name"]: index["key"] for index in mock_store._jobs.list_indexes()}
    pools_indexes = {index["name"]: index["key"] for index in mock_store._pools.list_indexes()}
    assert set(jobs_indexes) == {
        "_id_",
        "claim",
        "list",
        "status_list",
        "type_list",
        "type_status",
        "reaper",
        "due",
        "finished",
        "error_list",
        "idempotency",
        "queue_claim",
        "queue_list",
        "unique_key_live",
    }
    idempotency = next(index for index in mock_store._jobs.list_indexes() if index["name"] == "idempotency")
    assert idempotency.get("unique") and idempotency.get("sparse")
    assert list(jobs_indexes["claim"].items()) == [("status", 1), ("priority", -1), ("runAt", 1), ("_id", 1)]
    assert list(jobs_indexes["queue_claim"].items()) == [
        ("status", 1),
        ("queue", 1),
        ("priority", -1),
        ("runAt", 1),
        ("_id", 1),
    ]
    assert {index["name"] for index in mock_store._database["paused_queues"].list_indexes()} == {"_id_", "name"}
    assert list(jobs_indexes["list"].items()) == [("createdAt", -1), ("_id", -1)]
    assert list(jobs_indexes["reaper"].items()) == [("status", 1), ("lease.expiresAt", 1)]
    assert set(pools_indexes) == {"_id_", "live", "pool_id"}
    assert list(pools_indexes["live"].items()) == [("heartbeatAt", 1)]
    assert list(pools_indexes["pool_id"].items()) == [("poolId", 1)]


# --- documents ----------------------------------------------------------------------


def test_job_document_uses_the_design_field_names(mock_store):
    job = mock_store.insert(NewJob(type="email", payload={"to": "a@example.com"}, max_retries=3), now=NOW)

    document = mock_store._jobs.find_one()

    assert str(document["_id"]) == job.id
    assert set(document) == {
        "_id",
        "type",
        "payload",
        "status",
        "retryCount",
        "maxRetries",
        "priority",
        "runAt",
        "lease",
        "attempts",
        "attemptCount",
        "lastError",
        "hasError",
        "createdAt",
        "updatedAt",
        "finishedAt",
        "queue",
    }
    assert document["status"] == "pending" and document["hasError"] is False and document["lease"] is None


@pytest.fixture(params=["mongomock", "mongodb"])
def mongo_store(request):
    """The MongoDB store on mongomock, then on the server at MONGODB_URI (skipped without)."""
    store = make_store(request.param)
    try:
        store.ensure_ready()
        yield store
    finally:
        discard_store(request.param, store)


def test_a_pool_entry_has_an_object_id_and_its_pool_id_in_a_unique_field(mongo_store):
    # Wire-protocol servers such as CongoDB refuse an _id that is not an ObjectId.
    pool = PoolInfo(
        id="host:42:ab12cd34", host="host", pid=42, concurrency=4, running=0, started_at=NOW, heartbeat_at=NOW
    )
    mongo_store.register_pool(pool)
    mongo_store.register_pool(pool)  # registering again replaces the entry

    [document] = mongo_store._pools.find()
    assert isinstance(document["_id"], ObjectId)
    assert document["poolId"] == pool.id
    assert [live.id for live in mongo_store.live_pools(heartbeat_since=NOW)] == [pool.id]


@pytest.mark.not_on_congodb("unique indexes")
def test_the_pool_registry_refuses_a_second_entry_for_one_pool(mongo_store):
    mongo_store._pools.insert_one({"poolId": "host:42:ab12cd34", "heartbeatAt": NOW})

    with pytest.raises(DuplicateKeyError):
        mongo_store._pools.insert_one({"poolId": "host:42:ab12cd34", "heartbeatAt": NOW})
    assert mongo_store._pools.count_documents({}) == 1


def test_naive_datetimes_from_the_driver_come_back_as_aware_utc(mock_store):
    inserted = mock_store.insert(NewJob(type="email", payload={}, max_retries=3), now=NOW + timedelta(microseconds=456))

    assert mock_store._jobs.find_one()["createdAt"].tzinfo is None  # what mongomock gives back
    read = mock_store.get(inserted.id)
    assert read == inserted
    assert read.created_at == NOW and read.created_at.tzinfo is not None


def test_insert_many_stores_all_in_one_round_trip(mongo_store):
    with counting(mongo_store, skip_unmeasured=False) as sent:
        jobs = mongo_store.insert_many(
            [NewJob(type="email", payload={"n": n}, max_retries=3) for n in range(5)], now=NOW
        )

    assert sent is None or sent.by_kind() == {"insert": 1}
    assert [mongo_store.get(job.id) for job in jobs] == jobs
    assert mongo_store.insert_many([], now=NOW) == []


# --- round trips (counted on a real server; mongomock reports no commands) --------------------


def test_claiming_a_batch_takes_at_most_three_round_trips(mongo_store):
    jobs = _new_jobs(mongo_store, 10)
    with counting(mongo_store, skip_unmeasured=False) as sent:
        claimed = mongo_store.claim(owner="worker-1", limit=6, now=NOW, lease_seconds=30)

    assert sent is None or sent.total() <= 3
    assert [job.id for job in claimed] == [job.id for job in jobs[:6]]
    assert {job.lease.token for job in claimed} == {claimed[0].lease.token}
    assert all(job.lease.expires_at == NOW + timedelta(seconds=30) for job in claimed)


def test_claiming_one_job_takes_one_round_trip(mongo_store):
    _new_jobs(mongo_store, 2)
    with counting(mongo_store) as sent:
        assert len(mongo_store.claim(owner="worker-1", limit=1, now=NOW, lease_seconds=30)) == 1
    assert sent.total() == 1


def test_claiming_from_an_empty_queue_takes_one_round_trip(mongo_store):
    with counting(mongo_store) as sent:
        assert mongo_store.claim(owner="worker-1", limit=8, now=NOW, lease_seconds=30) == []
    assert sent.total() == 1


def test_renewing_nothing_sends_nothing(mongo_store):
    with counting(mongo_store) as sent:
        assert mongo_store.renew([], now=NOW, lease_seconds=30).kept == set()
    assert sent.total() == 0


def test_renewing_takes_two_round_trips_whatever_the_batch(mongo_store):
    _new_jobs(mongo_store, 5)
    held = mongo_store.claim(owner="worker-1", limit=5, now=NOW, lease_seconds=30)
    with counting(mongo_store, skip_unmeasured=False) as sent:
        renewed = mongo_store.renew(held, now=NOW + timedelta(seconds=10), lease_seconds=30)

    assert renewed.kept == {job.id for job in held}
    assert sent is None or sent.total() == 2
    assert mongo_store.get(held[0].id).lease.expires_at == NOW + timedelta(seconds=40)


# --- the reaper ---------------------------------------------------------------------


def test_reaper_spares_a_job_whose_worker_renewed_after_the_reaper_read_it(mock_store, monkeypatch):
    _new_jobs(mock_store, 1)
    [held] = mock_store.claim(owner="worker-1", limit=1, now=NOW, lease_seconds=30)
    later = NOW + timedelta(seconds=31)
    read_expired = mock_store._jobs.find

    def read_then_renew(*args, **kwargs):
        expired = list(read_expired(*args, **kwargs))
        monkeypatch.setattr(mock_store._jobs, "find", read_expired)  # renew reads too
        assert mock_store.renew([held], now=later, lease_seconds=30).kept == {held.id}  # same token, new expiry
        return expired

    monkeypatch.setattr(mock_store._jobs, "find", read_then_renew)

    assert mock_store.reap(now=later, retry_strategy=RetryStrategy(base_delay=0, max_delay=0)) == 0
    job = mock_store.get(held.id)
    assert job.status == "processing" and job.lease.expires_at == later + timedelta(seconds=30)
    assert job.attempt_count == 0


# --- results --------------------------------------------------------------------------


def test_results_are_one_unordered_bulk_write_fenced_per_job(mock_store, monkeypatch):
    _new_jobs(mock_store, 3)
    a, b, c = mock_store.claim(owner="worker-1", limit=3, now=NOW, lease_seconds=30)
    stale_c = c
    later = NOW + timedelta(seconds=1)
    done = Attempt(started_at=NOW, finished_at=later, worker="worker-1", outcome="completed")
    record(mock_store, Completed(c, done), now=later)  # c's lease is gone: its second write must be refused
    bulk_write = mock_store._jobs.bulk_write
    sent = []

    def counting_bulk_write(operations, **options):
        sent.append((len(operations), options))
        return bulk_write(operations, **options)

    monkeypatch.setattr(mock_store._jobs, "bulk_write", counting_bulk_write)
    monkeypatch.setattr(mock_store._jobs, "update_one", None)  # not one update per job

    applied = mock_store.record_results([Completed(a, done), Completed(b, done), Completed(stale_c, done)], now=later)

    assert applied == [True, True, False]
    assert sent == [(3, {"ordered": False})]
    assert mock_store.get(c.id).attempt_count == 1


# --- statistics ---------------------------------------------------------------------


def test_throughput_buckets_start_at_multiples_of_the_bucket_size(mock_store):
    _new_jobs(mock_store, 3)
    held = mock_store.claim(owner="worker-1", limit=3, now=NOW, lease_seconds=300)
    finish_times = [NOW + timedelta(seconds=10), NOW + timedelta(seconds=20), NOW + timedelta(seconds=70)]
    for job, finished_at in zip(held, finish_times, strict=True):
        attempt = Attempt(started_at=NOW, finished_at=finished_at, worker="worker-1", outcome="completed")
        record(mock_store, Completed(job, attempt), now=finished_at)

    buckets = mock_store.throughput(since=NOW - timedelta(hours=1), bucket_seconds=60)

    minute = NOW.replace(second=0, microsecond=0)
    assert [(bucket.start, bucket.completed, bucket.failed) for bucket in buckets] == [
        (minute, 2, 0),
        (minute + timedelta(minutes=1), 1, 0),
    ]


# --- change streams -----------------------------------------------------------------


def test_watch_inserts_returns_false_at_once_on_mongomock(mock_store):
    calls = []
    stop = threading.Event()

    started = time.monotonic()
    assert mock_store.watch_inserts(lambda: calls.append(1), stop) is False
    assert time.monotonic() - started < 1

    mock_store.insert(NewJob(type="email", payload={}, max_retries=3), now=NOW)
    assert calls == []


@pytest.mark.mongodb
@pytest.mark.not_on_congodb("change streams")
def test_watch_inserts_calls_back_for_each_insert_on_a_replica_set():
    store = make_store("mongodb")
    try:
        store.ensure_ready()
        inserted = threading.Event()
        stop = threading.Event()
        watched = []
        watcher = threading.Thread(target=lambda: watched.append(store.watch_inserts(inserted.set, stop)))
        watcher.start()
        # The stream may open after the first insert; insert until one is seen.
        deadline = time.monotonic() + 30
        while not inserted.wait(0.2) and watcher.is_alive() and time.monotonic() < deadline:
            store.insert(NewJob(type="email", payload={}, max_retries=3), now=NOW)
        stop.set()
        watcher.join(30)
        if watched == [False]:
            pytest.skip("the server at MONGODB_URI is standalone: change streams need a replica set")
        assert inserted.is_set() and watched == [True]
    finally:
        discard_store("mongodb", store)


def test_watch_inserts_raises_store_unavailable_when_the_server_is_unreachable(uri_store):
    store = uri_store(CLOSED_PORT_URI, timeout_seconds=0.3)

    with pytest.raises(StoreUnavailable, match=r"cannot watch MongoDB at .* for new jobs"):
        store.watch_inserts(lambda: None, threading.Event())
