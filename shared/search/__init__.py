"""Search: ranked, tenant-safe full-text search over channels, courses and lessons, behind
the SearchIndex port (Postgres full-text search today)."""

from typing import TYPE_CHECKING

from shared.platform.exports import lazy_exports

if TYPE_CHECKING:
    from shared.search.index import SearchIndex, search_index
    from shared.search.service import (
        SearchPage,
        get_settings,
        on_domain_event,
        put_settings,
        search,
    )

__getattr__ = lazy_exports(__name__, __file__)
__all__ = [
    "SearchIndex",
    "SearchPage",
    "get_settings",
    "on_domain_event",
    "put_settings",
    "search",
    "search_index",
]
