"""mongomock 4.3 against pymongo 4.20: pymongo's ``UpdateOne`` adds itself to a bulk
write with a ``sort`` argument that mongomock's builder does not take. The stores never
sort an ``UpdateOne``, so the shim drops the argument when it is empty.

mongomock's ``create_indexes`` also drops an ``IndexModel``'s ``partialFilterExpression``
(its ``create_index`` keeps and enforces it), so a partial unique index became a full one."""

import functools

from mongomock.collection import BulkOperationBuilder, Collection


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


def keep_partial_indexes() -> None:
    """Make ``collection.create_indexes`` keep each ``IndexModel``'s partial filter (idempotent)."""
    if getattr(Collection.create_indexes, "keeps_partial_filters", False):
        return

    def create_indexes(self, indexes, session=None):
        return [
            self.create_index(
                list(index.document["key"].items()),
                session=session,
                unique=index.document.get("unique", False),
                sparse=index.document.get("sparse", False),
                name=index.document.get("name"),
                **(
                    {"partialFilterExpression": index.document["partialFilterExpression"]}
                    if "partialFilterExpression" in index.document
                    else {}
                ),
            )
            for index in indexes
        ]

    create_indexes.keeps_partial_filters = True
    Collection.create_indexes = create_indexes
