"""mongomock 4.3 against pymongo 4.20: pymongo's ``UpdateOne`` adds itself to a bulk
write with a ``sort`` argument that mongomock's builder does not take. The stores never
sort an ``UpdateOne``, so the shim drops the argument when it is empty."""

import functools

from mongomock.collection import BulkOperationBuilder


def allow_bulk_updates() -> None:
    """Make ``collection.bulk_write([UpdateOne(...)])`` work on mongomock (idempotent)."""
    add_update = BulkOperationBuilder.add_update
    if getattr(add_update, "takes_sort", False):
        return

    @functools.wraps(add_update)
    def add_update_ignoring_sort(self, *args, sort=None, **kwargs):
        if sort is not None:
            raise NotImplementedError("mongomock cannot sort an update in a bulk write")
        return add_update(self, *args, **kwargs)

    add_update_ignoring_sort.takes_sort = True
    BulkOperationBuilder.add_update = add_update_ignoring_sort
