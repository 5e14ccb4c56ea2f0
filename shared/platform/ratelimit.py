"""Fixed-window rate limits kept in Postgres, so every instance of a function shares them."""

from __future__ import annotations

import time

from shared.platform.db import transaction
from shared.platform.errors import RateLimited


def parse(rule: str) -> tuple[int, int]:
    count, _, seconds = rule.partition("/")
    return int(count), int(seconds)


def hit(bucket: str, rule: str, *, detail: str = "Too many attempts; try again later.") -> None:
    """Count one hit on `bucket`; raise RateLimited (429 + Retry-After) past the limit."""
    limit, window = parse(rule)
    now = int(time.time())
    start = now - now % window
    with transaction() as tx:
        hits = tx.scalar(
            "INSERT INTO rate_limit_counters (bucket, window_start, hits)"
            " VALUES (:b, to_timestamp(:s), 1) ON CONFLICT (bucket, window_start)"
            " DO UPDATE SET hits = rate_limit_counters.hits + 1 RETURNING hits",
            b=bucket,
            s=start,
        )
    if hits > limit:
        raise RateLimited(detail, retry_after=start + window - now)
