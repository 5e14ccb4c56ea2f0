"""Courses, their ordered lessons, batches (cohorts) and resources."""

from typing import TYPE_CHECKING

from shared.platform.exports import lazy_exports

if TYPE_CHECKING:
    from shared.catalog.guards import require_writable
    from shared.catalog.rules import course_viewable, course_writable
    from shared.catalog.service import (
        archive_course,
        create_batch,
        create_course,
        create_lesson,
        create_resource,
        delete_lesson,
        delete_resource,
        get_batch,
        get_course,
        list_batches,
        list_courses,
        list_resources,
        publish_course,
        reorder_lessons,
        update_batch,
        update_course,
        update_lesson,
    )
    from shared.catalog.system_lessons import add_system_lesson

__getattr__ = lazy_exports(__name__, __file__)
__all__ = [
    "add_system_lesson",
    "archive_course",
    "course_viewable",
    "course_writable",
    "create_batch",
    "create_course",
    "create_lesson",
    "create_resource",
    "delete_lesson",
    "delete_resource",
    "get_batch",
    "get_course",
    "list_batches",
    "list_courses",
    "list_resources",
    "publish_course",
    "reorder_lessons",
    "require_writable",
    "update_batch",
    "update_course",
    "update_lesson",
]
