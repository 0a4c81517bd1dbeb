"""The enqueue fast path (``jobs.validation_fast``) agrees with ``JobInputSerializer``:
for every input it accepts, the serializer accepts it with the same validated data; an
input the serializer refuses is never accepted by the fast path."""

from datetime import UTC, datetime

import pytest

from jobs import services
from jobs.validation import JobInputSerializer
from jobs.validation_fast import quick_validated

NOW = datetime(2026, 2, 2, 5, 30, tzinfo=UTC)
BIG = "x" * 70_000

INPUTS = [
    {"type": "noop"},
    {"type": "noop", "payload": {}},
    {"type": "noop", "payload": {"a": [1, 2.5, None, True, {"b": "ü"}]}},
    {"type": "noop", "payload": {}, "priority": 5, "maxRetries": 0},
    {"type": "noop", "maxRetries": 100, "priority": -1_000_000},
    {"type": "noop", "maxRetries": 101},
    {"type": "noop", "maxRetries": -1},
    {"type": "noop", "maxRetries": True},
    {"type": "noop", "maxRetries": "3"},
    {"type": "noop", "maxRetries": 3.0},
    {"type": "noop", "maxRetries": None},
    {"type": "noop", "priority": 1_000_001},
    {"type": "noop", "priority": None},
    {"type": "noop", "delaySeconds": 0},
    {"type": "noop", "delaySeconds": 1.5},
    {"type": "noop", "delaySeconds": -1},
    {"type": "noop", "delaySeconds": float("inf")},
    {"type": "noop", "delaySeconds": float("nan")},
    {"type": "noop", "delaySeconds": None},
    {"type": "noop", "delaySeconds": "5"},
    {"type": "noop", "delaySeconds": 10**12},
    {"type": "noop", "runAt": "2026-02-02T05:30:00Z"},
    {"type": "noop", "runAt": "2026-02-02T05:30:00Z", "delaySeconds": 1},
    {"type": "noop", "payload": None},
    {"type": "noop", "payload": []},
    {"type": "noop", "payload": "text"},
    {"type": "noop", "payload": {"$set": 1}},
    {"type": "noop", "payload": {"a.b": 1}},
    {"type": "noop", "payload": {"a\x00": 1}},
    {"type": "noop", "payload": {"a": "\ud800"}},
    {"type": "noop", "payload": {1: "int key"}},
    {"type": "noop", "payload": {"n": float("nan")}},
    {"type": "noop", "payload": {"o": object()}},
    {"type": "noop", "payload": {"big": BIG}},
    {"type": "noop", "payload": {"big": "é" * 40_000}},
    {"type": "noop", "payload": {"deep": [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}},
    {"type": "email", "payload": {"to": "user@example.com", "subject": "s", "body": "b"}},
    {"type": "email", "payload": {}},
    {"type": "nosuchtype"},
    {"type": ""},
    {"type": "   "},
    {"type": " noop"},
    {"type": "n" * 101},
    {"type": "noop\x00"},
    {"type": 5},
    {"type": None},
    {},
    {"type": "noop", "status": "completed"},
    {"type": "noop", "colour": "blue"},
    {"type": "noop", "id": "abc"},
    ["type", "noop"],
    "noop",
]


@pytest.mark.parametrize("data", INPUTS, ids=range(len(INPUTS)))
def test_the_fast_path_accepts_only_what_the_serializer_accepts_with_the_same_result(data, settings):
    settings.JOBQUEUE_MAX_PAYLOAD_BYTES = 65_536
    serializer = JobInputSerializer(data=data, context={"now": NOW})
    try:
        valid = serializer.is_valid()
    except services.PayloadTooLarge:
        valid = False
    fast = quick_validated(data, NOW)
    if not valid:
        assert fast is None
    elif fast is not None:
        assert fast == dict(serializer.validated_data)


def test_the_common_job_takes_the_fast_path():
    # Without it the fast path could decline everything and the test above still pass.
    assert quick_validated({"type": "noop", "payload": {"n": 1}, "priority": 0}, NOW) is not None
    assert quick_validated({"type": "noop", "delaySeconds": 2}, NOW)["run_at"] == datetime(
        2026, 2, 2, 5, 30, 2, tzinfo=UTC
    )
