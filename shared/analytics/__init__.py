"""Analytics events and their daily rollups."""

from typing import TYPE_CHECKING

from shared.platform.exports import lazy_exports

if TYPE_CHECKING:
    from shared.analytics.events import maintain, record

__getattr__ = lazy_exports(__name__, __file__)
__all__ = [
    "maintain",
    "record",
]
