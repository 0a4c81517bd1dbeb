"""The enqueue path's shortcuts give exactly what the plain way gives.

The payload is encoded once (by validation, carried on ``NewJob.encoded_payload``) and
the returned ``Job`` and the ``NewJob`` are built without their frozen ``__init__``
(``jobs.frozen_build``); none of that may change what is stored or returned.
"""

import dataclasses
import json
from datetime import UTC, datetime

import pytest

from jobs import handlers, services
from jobs.domain import Job, NewJob, Status
from jobs.frozen_build import FrozenBuilder
from jobs.validation_fast import quick_validated, quick_validated_and_encoded

NOW = datetime(2026, 2, 2, 5, 30, 0, 123000, tzinfo=UTC)
PAYLOADS = [{}, {"to": "a@example.com"}, {"nested": {"list": [1, 2.5, None, True, "é ☃ 𝄞"]}, "n": -7}]


@pytest.fixture
def noop():
    handlers.handler("fastpath.noop")(lambda payload, context: None)
    yield "fastpath.noop"
    handlers.unregister("fastpath.noop")


def test_a_built_job_equals_the_constructed_one_field_for_field():
    values = dict(
        id="0123456789abcdef01234567",
        type="email",
        payload={"to": "a@example.com"},
        status=Status.PENDING,
        retry_count=0,
        max_retries=3,
        priority=2,
        run_at=NOW,
        created_at=NOW,
        updated_at=NOW,
        queue="emails",
    )
    built, constructed = FrozenBuilder(Job)(**values), Job(**values)

    assert type(built) is Job
    assert built == constructed and repr(built) == repr(constructed)
    assert dataclasses.asdict(built) == dataclasses.asdict(constructed)
    assert FrozenBuilder(Job).required <= set(values)
    assert dataclasses.replace(built, priority=5).priority == 5
    with pytest.raises(dataclasses.FrozenInstanceError):
        built.priority = 1


def test_classes_the_builder_cannot_build_faithfully_are_refused():
    @dataclasses.dataclass(frozen=True)
    class Checked:
        n: int

        def __post_init__(self):
            pass

    @dataclasses.dataclass(frozen=True)
    class SharedList:
        items: list = dataclasses.field(default_factory=list)

    for cls in (Checked, SharedList):
        with pytest.raises(TypeError):
            FrozenBuilder(cls)


@pytest.mark.parametrize("payload", PAYLOADS, ids=range(len(PAYLOADS)))
def test_the_fast_check_hands_over_the_payload_as_the_store_writes_it(payload, noop):
    job_input, encoded = quick_validated_and_encoded({"type": noop, "payload": payload}, NOW)

    assert job_input == quick_validated({"type": noop, "payload": payload}, NOW)
    assert encoded == json.dumps(payload, separators=(",", ":"), ensure_ascii=False)


@pytest.mark.parametrize("payload", PAYLOADS, ids=range(len(PAYLOADS)))
def test_an_enqueued_job_is_returned_as_stored_and_owns_its_payload(payload, noop, sql_store):
    given = json.loads(json.dumps(payload))
    job = services.enqueue(noop, given, priority=1)
    given["added later"] = 1

    assert job.payload == payload
    assert services.get_job(job.id) == job


@pytest.mark.parametrize("payload", PAYLOADS, ids=range(len(PAYLOADS)))
def test_bulk_enqueued_jobs_are_returned_as_stored(payload, noop, sql_store):
    jobs = services.enqueue_many(
        [{"type": noop, "payload": payload}, {"type": noop, "payload": payload, "priority": 3}]
    )

    assert [job.payload for job in jobs] == [payload, payload]
    assert [services.get_job(job.id) for job in jobs] == jobs
    assert jobs[0].payload is not jobs[1].payload  # each job owns its copy


def test_a_new_job_without_encoded_payload_is_encoded_by_the_store(sql_store):
    job = sql_store.insert(NewJob(type="email", payload={"to": "é"}, max_retries=1), now=NOW)

    assert sql_store.get(job.id).payload == {"to": "é"} == job.payload
