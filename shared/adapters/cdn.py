"""Cloud CDN signed URLs for media (issue 16 item 11), and the one choice between those and
GCS V4 signed URLs.

The media bucket is private and sits behind the `media-cdn` backend bucket on the media domain
(terraform/storage.tf). Cloud CDN serves a request with a valid signature from its cache or
fetches it as its fill account, the only reader of the bucket besides the functions; a bad or
expired signature is answered 403 at the edge.

A Cloud CDN signed URL (Google's "Use signed URLs", what `gcloud compute sign-url` makes):

    <url>?Expires=<unix seconds>&KeyName=<key name>&Signature=<sig>
    sig = base64url(HMAC-SHA1(key, "<url>?Expires=<unix seconds>&KeyName=<key name>"))

(`&` instead of `?` when the URL already has a query), where `key` is the 16 raw bytes of the
base64url key that was added to the backend bucket. The signature covers the whole URL up to
and including KeyName, so the path and any query before it cannot be changed.

The signing functions are pure (no SDK, no I/O); `signed_media_get_url` reads the settings and
answers a CDN URL when signing keys are configured (the cloud: Secret Manager mounts
MEDIA_CDN_SIGNING_KEYS, a JSON map {key name: base64url key} like JWT_KEYS, and
MEDIA_CDN_KEY_NAME picks the one that signs, so a rotation never pairs a name with another
key's value), else a GCS V4 URL (locally, fake-gcs-server). Only this module reads the keys, so
only the functions that use it mount the secret (tests/infra checks that).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qsl, quote, urlsplit

from shared.platform.config import settings

MAX_SIGNED_SECONDS = 15 * 60  # as shared/adapters/gcs.py: media URLs live at most 15 minutes
KEY_BYTES = 16  # Cloud CDN signing keys are 128-bit
SIGNING_PARAMS = {"Expires", "KeyName", "Signature"}


def decode_key(encoded: str) -> bytes:
    """The raw key of a base64url-encoded Cloud CDN signing key (padding optional)."""
    text = encoded.strip()
    key = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    if len(key) != KEY_BYTES:
        raise ValueError(f"a Cloud CDN signing key is {KEY_BYTES} bytes, not {len(key)}")
    return key


def sign_url(url: str, *, key_name: str, key: bytes, expires: int) -> str:
    """`url` signed for Cloud CDN until `expires` (unix seconds) with the key named `key_name`."""
    query = urlsplit(url).query
    if {k for k, _ in parse_qsl(query, keep_blank_values=True)} & SIGNING_PARAMS:
        raise ValueError("the URL to sign must not carry Expires, KeyName or Signature")
    separator = "&" if query else "?"
    to_sign = f"{url}{separator}Expires={int(expires)}&KeyName={key_name}"
    digest = hmac.new(key, to_sign.encode("utf-8"), hashlib.sha1).digest()
    return f"{to_sign}&Signature={base64.urlsafe_b64encode(digest).decode('ascii')}"


def attachment_disposition(filename: str) -> str:
    """`Content-Disposition: attachment` naming the file (quotes and backslashes dropped)."""
    safe = filename.replace('"', "").replace("\\", "")
    return f'attachment; filename="{safe}"'


def object_url(base_url: str, object_name: str, *, filename: str | None = None) -> str:
    """The CDN URL of a media object; with `filename`, Cloud Storage answers it as an
    attachment of that name (`response-content-disposition`, covered by the signature)."""
    url = f"{base_url.rstrip('/')}/{quote(object_name, safe='/')}"
    if filename:
        url += "?response-content-disposition=" + quote(attachment_disposition(filename), safe="")
    return url


def signed_media_get_url(
    object_name: str, *, expires_seconds: int, filename: str | None = None
) -> tuple[str, datetime]:
    """A signed GET URL of a media-bucket object and when it expires: through Cloud CDN when
    a signing key is configured, else straight from Cloud Storage (V4)."""
    s = settings()
    if s.media_cdn_signing_keys is None or not s.media_cdn_base_url or not s.media_cdn_key_name:
        from shared.adapters import gcs  # lazy: the storage SDK only where it signs

        return gcs.signed_get_url(
            "media", object_name, expires_seconds=expires_seconds, filename=filename
        )
    seconds = max(1, min(int(expires_seconds), MAX_SIGNED_SECONDS))
    expires_at = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=seconds)
    url = sign_url(
        object_url(s.media_cdn_base_url, object_name, filename=filename),
        key_name=s.media_cdn_key_name,
        key=decode_key(
            json.loads(s.media_cdn_signing_keys.get_secret_value())[s.media_cdn_key_name]
        ),
        expires=int(expires_at.timestamp()),
    )
    return url, expires_at
