"""The one guard of "an archived course is read-only", for every capability that writes
into a course (catalog edits, media uploads, live classes)."""

from __future__ import annotations

from shared.catalog.rules import ARCHIVED_MESSAGE, course_writable
from shared.platform.errors import Conflict


def require_writable(status: str) -> None:
    """409 when the course is archived: it takes no edits until it is published again."""
    if not course_writable(status):
        raise Conflict(ARCHIVED_MESSAGE)
