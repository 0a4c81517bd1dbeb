"""Counting what a test's store sends to its database, with the benchmark's own counters
(``jobs.management.roundtrips``): SQL statements on the SQL store, commands on a real
MongoDB. mongomock sends nothing a driver could report, so a test that counts skips there.
"""

from contextlib import contextmanager

import pymongo
import pytest

from jobs.management.roundtrips import MongoCommands, RoundTripCounter, SqlStatements

# The counters of the tests counting now; LISTENER (on every real-MongoDB test store's
# client) hands each command to them.
_counting: list[RoundTripCounter] = []


class _ToActiveCounters:
    def record(self, kind: str) -> None:
        for counter in list(_counting):
            counter.record(kind)


_COMMANDS = MongoCommands(_ToActiveCounters())
LISTENER = _COMMANDS.listener()


@contextmanager
def counting(store, *, skip_unmeasured: bool = True):
    """A ``RoundTripCounter`` of what ``store`` sends while the block runs. On mongomock,
    which reports no commands, it skips the test, or yields ``None`` when the test has
    more to check than round trips (``skip_unmeasured=False``)."""
    counter = RoundTripCounter()
    if store.kind == "sql":
        with SqlStatements(counter, store.using):
            yield counter
        return
    if not isinstance(store._client, pymongo.MongoClient):
        if skip_unmeasured:
            pytest.skip("mongomock reports no commands: round trips are counted on a real server (make test-mongo)")
        yield None
        return
    _counting.append(counter)
    try:
        with _COMMANDS:
            yield counter
    finally:
        _counting.remove(counter)
