"""Enrollments, lesson access and playback, heartbeats and progress, completions."""

from typing import TYPE_CHECKING

from shared.platform.exports import lazy_exports

if TYPE_CHECKING:
    from shared.learning.enrollments import create_enrollment, end_enrollment
    from shared.learning.progress import (
        Heartbeat,
        accept_heartbeat,
        complete_lesson,
        course_progress,
        record_heartbeat,
        write_heartbeats,
    )
    from shared.learning.service import enroll, my_enrollments, playback, resource_download

__getattr__ = lazy_exports(__name__, __file__)
__all__ = [
    "Heartbeat",
    "accept_heartbeat",
    "complete_lesson",
    "course_progress",
    "create_enrollment",
    "end_enrollment",
    "enroll",
    "my_enrollments",
    "playback",
    "record_heartbeat",
    "resource_download",
    "write_heartbeats",
]
