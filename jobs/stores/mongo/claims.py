"""Claiming due jobs for a worker, and giving a failed claim's jobs back.

A claim matches ``status: pending`` and writes a lease with a token of its own, so two
claimers never share a job. One job is taken by ``find_one_and_update``, a retryable
write the driver sends again once after a network error and the server applies at most
once. A batch is taken by ``update_many``, which the driver never retries: the store
sends it again itself, which takes nothing new, and reads back the jobs under that
token. A claim that still fails gives its jobs back (pending, no attempt counted); if
that fails too, the reaper returns them when the lease expires.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Collection
from contextlib import contextmanager
from datetime import datetime, timedelta

import pymongo
from pymongo import ReturnDocument
from pymongo.errors import ConnectionFailure, PyMongoError, ServerSelectionTimeoutError, WriteConcernError

from jobs.domain import Job, Status
from jobs.stores.mongo.connection import MongoConnection
from jobs.stores.mongo.documents import job_of
from jobs.stores.mongo.errors import reason, serialized
from jobs.stores.mongo.queries import due_filter
from jobs.timeutil import truncate_ms

logger = logging.getLogger(__name__)

# Claim order: highest priority first, then oldest runAt, then oldest id.
CLAIM_ORDER = [("priority", pymongo.DESCENDING), ("runAt", pymongo.ASCENDING), ("_id", pymongo.ASCENDING)]


class Claims(MongoConnection):
    """``claim``: pending jobs due now become the caller's, under a lease."""

    @serialized
    def claim(
        self,
        *,
        owner: str,
        limit: int,
        now: datetime,
        lease_seconds: float,
        queue: str | None = None,
        exclude_queues: Collection[str] = (),
    ) -> list[Job]:
        """See ``JobStore.claim``. One round trip for one job; three for a batch (more
        only when an answer is lost).

        Every claim writes a lease token of its own, so it can tell the jobs it took from
        any other's whatever happened to the answers. A claim whose write may have landed
        but whose answer was lost (a dropped connection, a write-concern error) gives its
        jobs back (pending again, no attempt counted) before raising ``StoreUnavailable``;
        if even that fails, the reaper returns them once the lease expires. When no server
        could be selected nothing was sent, and nothing is sent again: the caller hears
        of the outage within one timeout, not two.
        """
        if limit < 1:
            return []
        now = truncate_ms(now)
        lease = {
            "owner": owner,
            "token": secrets.token_hex(16),
            "expiresAt": truncate_ms(now + timedelta(seconds=lease_seconds)),
            "startedAt": now,
        }
        update = {"$set": {"status": Status.PROCESSING.value, "lease": lease, "updatedAt": now}}
        due = due_filter(now, queue, exclude_queues)
        if limit == 1:
            return self._claim_one(update, due)
        return self._claim_batch(update, due, limit)

    def _claim_one(self, update: dict, due: dict) -> list[Job]:
        """One ``find_one_and_update``: a retryable write, which the driver sends again
        once after a network error and the server applies at most once."""
        with self._given_back_on_failure(update):
            document = self._jobs.find_one_and_update(
                due, update, sort=CLAIM_ORDER, return_document=ReturnDocument.AFTER
            )
        return [job_of(document)] if document else []

    def _claim_batch(self, update: dict, due: dict, limit: int) -> list[Job]:
        """Pick candidates, take those still pending under this claim's token, read back what we got.

        Each job is taken by a single-document update matched on ``status: pending``, so
        two claimers racing for the same candidates split them and never share one; the
        loser just gets fewer jobs this time. The update may land any number of times
        (``_take``): it only ever takes candidates, so never more than ``limit``, and
        the read by token finds every job it took.
        """
        candidates = [doc["_id"] for doc in self._jobs.find(due, {"_id": 1}, sort=CLAIM_ORDER, limit=limit)]
        if not candidates:
            return []
        with self._given_back_on_failure(update):
            if not self._take({"_id": {"$in": candidates}, **due}, update):
                return []
            # _id $in (not the token alone) so the read uses the _id index.
            token = update["$set"]["lease"]["token"]
            documents = self._jobs.find(
                {"_id": {"$in": candidates}, "lease.token": token}, sort=CLAIM_ORDER, limit=len(candidates)
            )
            return [job_of(document) for document in documents]

    def _take(self, match: dict, update: dict) -> bool:
        """``update_many`` of the claim; ``False`` only when it surely took nothing.

        The driver never retries a multi-document update, so this sends it again once
        when the answer was lost or the write not confirmed: with the same token and
        only still-pending candidates matched, a second landing takes nothing new.
        """
        try:
            return self._jobs.update_many(match, update).modified_count > 0
        except ServerSelectionTimeoutError:
            raise  # not sent: no server to send it to
        except (ConnectionFailure, WriteConcernError) as error:
            logger.info("%s: claim answer lost (%s); sending it again", self.describe(), reason(error))
            self._jobs.update_many(match, update)
            return True  # the lost answer may have taken some

    @contextmanager
    def _given_back_on_failure(self, update: dict):
        """Give back the jobs of the claim ``update`` if the block fails after its write
        may have landed: no caller will receive them, and they must not wait for the
        reaper (which would count an attempt that never ran)."""
        try:
            yield
        except ServerSelectionTimeoutError:
            raise  # no server: the give-back could not be sent either, the reaper will do it
        except PyMongoError:
            self._give_back(update["$set"]["lease"], update["$set"]["updatedAt"])
            raise

    def _give_back(self, lease: dict, now: datetime) -> None:
        """Processing jobs still under ``lease`` back to pending, as before the claim.

        Matched on status and expiry (the reaper index) and the token, so a job someone
        else took since (the reaper, once the lease expired) is left alone. Best effort:
        if the server cannot be reached either, the reaper returns them when the lease expires.
        """
        held = {"status": Status.PROCESSING.value, "lease.expiresAt": lease["expiresAt"], "lease.token": lease["token"]}
        try:
            given = self._jobs.update_many(
                held, {"$set": {"status": Status.PENDING.value, "lease": None, "updatedAt": now}}
            )
        except PyMongoError as error:
            logger.warning(
                "%s: a failed claim could not give its jobs back (%s); the reaper returns them after %s",
                self.describe(),
                reason(error),
                lease["expiresAt"].isoformat(),
            )
            return
        if given.modified_count:
            logger.info("%s: a failed claim gave %d jobs back", self.describe(), given.modified_count)
