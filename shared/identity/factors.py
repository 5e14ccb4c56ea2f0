"""Whether a user has a second factor: the one question other capabilities ask of it (a
channel may require one of its owners and admins). Kept apart from second_factor.py so that
asking does not bring TOTP, hashing or the mail queue into every function's bundle."""

from __future__ import annotations

from shared.platform.db import Tx


def enrolled(tx: Tx, user_id: str) -> bool:
    """Whether the user signs in with a confirmed second factor."""
    return bool(
        tx.scalar(
            "SELECT 1 FROM user_totp WHERE user_id = :u AND confirmed_at IS NOT NULL",
            u=user_id,
        )
    )
