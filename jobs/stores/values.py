"""Plain values a store call takes or returns besides the domain objects of ``jobs.domain``."""

from dataclasses import dataclass, field
from datetime import datetime

# (createdAt, id) of the last job of a page: the next page starts strictly after it.
ListCursor = tuple[datetime, str]


@dataclass(frozen=True)
class Renewal:
    """What one ``renew`` found: the held jobs whose lease it extended, and which of those
    were asked to cancel (``POST /jobs/<id>/cancel`` while processing)."""

    kept: set[str] = field(default_factory=set)
    cancel_requested: set[str] = field(default_factory=set)
