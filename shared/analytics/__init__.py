"""Analytics events, their daily rollups, and the creator KPIs read from them."""

from typing import TYPE_CHECKING

from shared.platform.exports import lazy_exports

if TYPE_CHECKING:
    from shared.analytics.events import record
    from shared.analytics.maintenance import maintain
    from shared.analytics.rules import to_csv
    from shared.analytics.service import export_csv, get_settings, put_settings, summary

__getattr__ = lazy_exports(__name__, __file__)
__all__ = [
    "export_csv",
    "get_settings",
    "maintain",
    "put_settings",
    "record",
    "summary",
    "to_csv",
]
