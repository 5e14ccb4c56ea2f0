"""Privacy rules, pure: what an export holds, what erasure does to each table, retention
windows, and the CSV safety of the audit export. No I/O here."""

from __future__ import annotations

import hashlib
import ipaddress
import re
from datetime import timedelta
from typing import Any

EXPORT_TTL = timedelta(days=7)  # an export's ZIP (and its job) expires after a week
SIGNED_URL_SECONDS = 15 * 60  # each GET of a ready export signs a fresh short-lived URL
PAGE = 1000  # rows per database round trip when gathering or scrubbing

# The workflow steps, in order (workflows/privacy_export.yaml, privacy_erasure.yaml).
USER_EXPORT_STEPS = ("postgres", "analytics", "storage", "firestore", "package")
CHANNEL_EXPORT_STEPS = ("channel", "package")
ERASURE_STEPS = ("stripe", "postgres", "analytics", "storage", "firestore", "finish")
STEPS = {
    "user_export": USER_EXPORT_STEPS,
    "channel_export": CHANNEL_EXPORT_STEPS,
    "erasure": ERASURE_STEPS,
}
WORKFLOW = {
    "user_export": "privacy_export",
    "channel_export": "privacy_export",
    "erasure": "privacy_erasure",
}

# Values never exported, even to their owner: secrets and their hashes.
_SECRET = re.compile(r"(hash|secret|token|salt|_enc)$|^(code_hash|secret)$")

# Erasure, per (table, user column) the catalog lists (privacy_user_columns()):
# - DELETE: sessions, secrets, private state nobody else needs.
# - DETACH: the authorship goes (column set NULL): posts and comments then show a deleted user.
# - everything else is kept, linked to the user id, which after erasure names nobody: the users
#   row keeps only a pseudonym (financial, ledger and audit rows must be kept by law).
DELETE = frozenset(
    {
        ("refresh_tokens", "user_id"),
        ("password_reset_tokens", "user_id"),
        ("login_challenges", "user_id"),
        ("user_totp", "user_id"),
        ("user_recovery_codes", "user_id"),
        ("watch_sessions", "user_id"),
        ("notifications", "user_id"),
        ("notification_preferences", "user_id"),
        ("calendar_feeds", "user_id"),
        ("live_reminders", "user_id"),
    }
)
DETACH = frozenset(
    {("posts", "author_id"), ("comments", "author_id"), ("notifications", "actor_id")}
)
# Never gathered per user: the job table itself and the audit personal data (exported apart).
NOT_EXPORTED = frozenset({("privacy_jobs", "user_id")})

DELETED_USER = "Deleted user"

DELETED_POSTS_AFTER = timedelta(days=30)
IDEMPOTENCY_KEYS_AFTER = timedelta(hours=24)
RATE_LIMIT_COUNTERS_AFTER = timedelta(days=1)
REFRESH_TOKENS_AFTER = timedelta(days=1)  # past their expiry: nobody can present them
RETENTION_BATCH = 500  # rows per statement: one run never holds locks for long
RETENTION_MAX_BATCHES = 40  # per task and run; the next run continues

# CSV cells a spreadsheet would run as a formula (OWASP "CSV injection").
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def pseudonym(user_id: str) -> str:
    """The stable stand-in of an erased user: the same user id always gives the same one."""
    return "deleted-" + hashlib.sha256(f"erased:{user_id}".encode()).hexdigest()[:16]


def pseudonymous_email(user_id: str) -> str:
    return f"{pseudonym(user_id)}@erased.invalid"


def exportable(doc: dict[str, Any]) -> dict[str, Any]:
    """A row as its owner may see it: without secrets."""
    return {k: v for k, v in doc.items() if not _SECRET.search(k)}


def erasure_action(table: str, column: str) -> str:
    if (table, column) in DELETE:
        return "delete"
    if (table, column) in DETACH:
        return "detach"
    return "keep"


def scrubbable_address(ip: str) -> bool:
    """A client address erasure removes: a real one. Loopback and private addresses are our
    own infrastructure's (every local request comes from 127.0.0.1), not the person's."""
    try:
        addr = ipaddress.ip_address(ip)
    except ValueError:
        return False
    return not (
        addr.is_loopback
        or addr.is_unspecified
        or addr.is_link_local
        or addr.is_multicast
        or _rfc1918(addr)
    )


def _rfc1918(addr: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    nets = ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7", "100.64.0.0/10")
    return any(
        addr in ipaddress.ip_network(n)
        for n in nets
        if addr.version == ipaddress.ip_network(n).version
    )


def email_variants(email: str) -> list[str]:
    """The forms an address is stored in (as typed, lowercased), longest-first, distinct."""
    return sorted({email, email.lower(), email.strip().lower()}, key=lambda v: (-len(v), v))


def next_step(kind: str, done: list[str]) -> str | None:
    for step in STEPS[kind]:
        if step not in done:
            return step
    return None


def csv_cell(value: Any) -> str:
    """A CSV cell that a spreadsheet shows as text: a leading formula character is quoted."""
    if value is None:
        return ""
    text = value if isinstance(value, str) else str(value)
    if text.startswith(_FORMULA_START):
        return "'" + text
    return text


def export_object_name(job_id: str, kind: str, subject: str) -> str:
    return f"privacy/{kind}/{subject}/{job_id}.zip"


def part_object_name(job_id: str, part: str) -> str:
    return f"privacy/parts/{job_id}/{part}"


README = """Your data export
================

This archive holds everything {platform} keeps about {subject}, as of {generated_at} (UTC).
Every file is JSON (UTF-8). Identifiers are opaque strings; times are RFC 3339 UTC.

{files}

Secrets (password hashes, token hashes, second-factor secrets) are never exported.
The archive expires on {expires_at}; ask for a new export at any time.
"""
