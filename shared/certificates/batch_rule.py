"""The channel's certificate rule for batches: the attendance rate a student needs (read by
issuance, set by the owner or an admin)."""

from __future__ import annotations

from shared.platform.db import Tx

DEFAULT_THRESHOLD = 0.75  # when the channel set none


def attendance_threshold(tx: Tx) -> float:
    """The channel's threshold (0..1), in the transaction's channel."""
    value = tx.scalar(
        "SELECT attendance_threshold FROM certificate_settings WHERE channel_id = app_channel_id()"
    )
    return DEFAULT_THRESHOLD if value is None else float(value)
