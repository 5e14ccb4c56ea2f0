"""Pure rules of certificates: codes, the holder's hashed identity, the Open Badges 3.0
credential document and the consumer's parsing of `course.completed`. No I/O."""

from __future__ import annotations

import base64
import gzip
import hashlib
import re
import secrets
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

# 32 symbols: digits and capitals without 0, O, 1 and I (nobody can misread or mistype them).
ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"
CODE_LENGTH = 12  # 60 bits: guessing one of a million live codes takes ~10^12 tries
# What an impossible code is looked up as (0 is not in the alphabet), and the channel the
# lookup of a missing certificate is scoped to (none owns it): see service._by_code.
IMPOSSIBLE_CODE = "0" * CODE_LENGTH
NO_CHANNEL = "00000000-0000-0000-0000-000000000000"
COURSE_COMPLETED = "course.completed"
CERTIFICATE_ISSUED = "certificate.issued"
# A live class ended (shared.live): attendance rates of its batch changed (the batch rule).
SESSION_ENDED = "live_session.ended"
VC_CONTEXT = "https://www.w3.org/ns/credentials/v2"
OB_CONTEXT = "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json"
STATUS_LIST_BITS = 131072  # the W3C minimum (16 KiB), so one bit does not single a holder out
_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def new_code() -> str:
    """A fresh random code, as stored (no separators)."""
    return "".join(secrets.choice(ALPHABET) for _ in range(CODE_LENGTH))


def display_code(code: str) -> str:
    """The code as printed and typed: groups of four, `ABCD-EFGH-JKLM`."""
    return "-".join(code[i : i + 4] for i in range(0, len(code), 4))


def verify_url(code: str, *, base_url: str) -> str:
    """The public verification page of a code."""
    return f"{base_url.rstrip('/')}/c/{display_code(code)}"


def normalize_code(typed: str) -> str | None:
    """The stored form of a code as someone typed it (any case, dashes or spaces between the
    groups), or None if it cannot be a code."""
    code = re.sub(r"[\s-]", "", typed or "").upper()
    if len(code) != CODE_LENGTH or any(ch not in ALPHABET for ch in code):
        return None
    return code


def new_salt() -> str:
    return secrets.token_hex(16)


def identity_hash(email: str, salt: str) -> str:
    """Open Badges 3.0 IdentityObject hash of an email: `sha256$` + hex(sha256(email + salt)),
    the email lower-cased and trimmed."""
    digest = hashlib.sha256((email.strip().lower() + salt).encode()).hexdigest()
    return f"sha256${digest}"


def parse_completed(envelope: Any) -> tuple[str, str, str, str, str | None] | str:
    """(event_id, channel_id, user_id, course_id, enrollment_id) of a `course.completed`
    envelope (outbox.envelope's body), or why it is malformed."""
    if not isinstance(envelope, dict):
        return "the envelope is not an object"
    if envelope.get("type") != COURSE_COMPLETED:
        return f"not a {COURSE_COMPLETED} event"
    event_id, channel_id = envelope.get("id"), envelope.get("channel_id")
    data = envelope.get("data")
    if not isinstance(event_id, str) or not 0 < len(event_id) <= 100:
        return "no event id"
    if not isinstance(channel_id, str) or not is_uuid(channel_id):
        return "no channel id"
    if not isinstance(data, dict):
        return "no data"
    user_id, course_id = data.get("user_id"), data.get("course_id")
    enrollment_id = data.get("enrollment_id")
    if not isinstance(user_id, str) or not isinstance(course_id, str):
        return "user_id and course_id must be UUIDs"
    if not is_uuid(user_id) or not is_uuid(course_id):
        return "user_id and course_id must be UUIDs"
    if enrollment_id is not None and not (
        isinstance(enrollment_id, str) and is_uuid(enrollment_id)
    ):
        return "enrollment_id must be a UUID"
    return event_id, channel_id, user_id, course_id, enrollment_id


def is_uuid(value: Any) -> bool:
    return isinstance(value, str) and _UUID.match(value) is not None


def _iso(at: datetime) -> str:
    return at.isoformat(timespec="seconds").replace("+00:00", "Z")


def status_list_url(channel_id: str, *, base_url: str) -> str:
    return f"{base_url.rstrip('/')}/v1/certificates/status-lists/{channel_id}"


def encode_status_list(revoked: list[int]) -> str:
    """Bitstring Status List `encodedList`: the bits (index 0 = the first byte's highest bit)
    GZIP-compressed, base64url without padding, with the multibase prefix `u`."""
    bits = bytearray(STATUS_LIST_BITS // 8)
    for i in revoked:
        bits[i // 8] |= 0x80 >> (i % 8)
    packed = gzip.compress(bytes(bits), mtime=0)
    return "u" + base64.urlsafe_b64encode(packed).rstrip(b"=").decode()


def decode_status_list(encoded: str) -> bytes:
    """The bits of an `encodedList` (for verifiers and tests)."""
    raw = encoded.removeprefix("u")
    return gzip.decompress(base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)))


def status_list_credential(
    channel: dict[str, Any], revoked: list[int], *, base_url: str, now: datetime
) -> dict[str, Any]:
    """The channel's `BitstringStatusListCredential` (revocation), issued by the channel."""
    url = status_list_url(str(channel["id"]), base_url=base_url)
    issuer = f"{base_url.rstrip('/')}/ch/{channel['slug']}"
    return {
        "@context": [VC_CONTEXT],
        "id": url,
        "type": ["VerifiableCredential", "BitstringStatusListCredential"],
        "issuer": issuer,
        "validFrom": _iso(now),
        "credentialSubject": {
            "id": f"{url}#list",
            "type": "BitstringStatusList",
            "statusPurpose": "revocation",
            "encodedList": encode_status_list(revoked),
        },
    }


def credential(cert: dict[str, Any], *, base_url: str) -> dict[str, Any]:
    """The Open Badges 3.0 `OpenBadgeCredential` (VC data model 2.0) of a certificate row
    joined with its channel (`channel_slug`, `channel_name`)."""
    base = base_url.rstrip("/")
    channel_url = f"{base}/ch/{cert['channel_slug']}"
    list_url = status_list_url(str(cert["channel_id"]), base_url=base)
    return {
        "@context": [VC_CONTEXT, OB_CONTEXT],
        "id": f"urn:uuid:{cert['id']}",
        "type": ["VerifiableCredential", "OpenBadgeCredential"],
        "name": cert["course_title"],
        "issuer": {
            "id": channel_url,
            "type": ["Profile"],
            "name": cert["channel_name"],
            "url": channel_url,
        },
        "validFrom": _iso(cert["issued_at"]),
        "credentialStatus": {
            "id": f"{list_url}#{cert['status_index']}",
            "type": "BitstringStatusListEntry",
            "statusPurpose": "revocation",
            "statusListIndex": str(cert["status_index"]),
            "statusListCredential": list_url,
        },
        "credentialSubject": {
            "type": ["AchievementSubject"],
            "identifier": [
                {
                    "type": "IdentityObject",
                    "identityHash": cert["subject_hash"],
                    "identityType": "emailAddress",
                    "hashed": True,
                    "salt": cert["subject_salt"],
                }
            ],
            "achievement": {
                "id": f"{channel_url}/courses/{cert['course_id']}",
                "type": ["Achievement"],
                "name": cert["course_title"],
                "description": cert["course_description"] or cert["course_title"],
                "criteria": {"narrative": "Completed every lesson of the course."},
            },
        },
    }


def jwt_claims(doc: dict[str, Any], *, issued_at: datetime) -> dict[str, Any]:
    """VC-JWT claims (Open Badges 3.0 section 8.2): the registered claims mirror the
    credential, which travels whole in `vc`."""
    return {
        "iss": doc["issuer"]["id"],
        "jti": doc["id"],
        "sub": doc["credentialSubject"]["identifier"][0]["identityHash"],
        "nbf": int(issued_at.timestamp()),
        "iat": int(issued_at.timestamp()),
        "vc": doc,
    }


SHARE_NETWORKS = ("linkedin", "x", "download")


def share_url(network: str, *, verify_url: str, text: str, download_url: str, code: str) -> str:
    """Where a share of the certificate goes: LinkedIn's and X's share intents for the public
    page, or the download (the signed credential until PDFs are rendered)."""
    if network == "linkedin":
        return "https://www.linkedin.com/sharing/share-offsite/?" + urlencode({"url": verify_url})
    if network == "x":
        return "https://x.com/intent/post?" + urlencode({"text": text, "url": verify_url})
    if network == "download":
        return download_url
    raise ValueError(f"unknown network {network!r} (certificate {code})")
