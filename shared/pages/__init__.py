"""Public, server-rendered channel and course pages."""

from typing import TYPE_CHECKING

from shared.platform.exports import lazy_exports

if TYPE_CHECKING:
    from shared.pages.service import Page, channel_page, course_page

__getattr__ = lazy_exports(__name__, __file__)
__all__ = [
    "Page",
    "channel_page",
    "course_page",
]
