"""Firebase custom tokens: an RS256 JWT signed by a service account, which a client exchanges
for a Firebase ID token (signInWithCustomToken) to read Firestore under firestore.rules.

Signed with google-auth (the signer Google's own Admin SDK uses), so one code path covers both:
- locally (`SIGNING_KEY_FILE` set) the stack's generated service-account key;
- in the cloud (no key file) IAM signBlob as the function's own service account
  (`SIGNING_SERVICE_ACCOUNT` overrides), which needs roles/iam.serviceAccountTokenCreator on
  itself (terraform: sign_urls) — no private key ever leaves IAM.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from shared.platform.config import settings

AUDIENCE = (
    "https://identitytoolkit.googleapis.com/google.identity.identitytoolkit.v1.IdentityToolkit"
)
MAX_SECONDS = 3600  # Firebase refuses custom tokens that live longer than an hour

_lock = threading.Lock()
_signer: Any = None
_email: str | None = None


def _signing() -> tuple[Any, str]:
    global _signer, _email
    with _lock:
        if _signer is None:
            s = settings()
            if s.signing_key_file:
                from google.oauth2 import service_account

                creds = service_account.Credentials.from_service_account_file(s.signing_key_file)
                _signer, _email = creds.signer, creds.service_account_email
            else:
                import google.auth
                import google.auth.iam
                from google.auth.transport.requests import Request

                creds, _ = google.auth.default(
                    scopes=["https://www.googleapis.com/auth/cloud-platform"]
                )
                request = Request()
                if not creds.valid:
                    creds.refresh(request)  # the metadata server names the account on refresh
                email = s.signing_service_account or getattr(creds, "service_account_email", "")
                _signer, _email = google.auth.iam.Signer(request, creds, email), email
        assert _email is not None
        return _signer, _email


def sign_custom_token(*, uid: str, claims: dict[str, Any], seconds: int = MAX_SECONDS) -> str:
    """A custom token for `uid` carrying `claims` (they become the ID token's claims)."""
    from google.auth import jwt

    signer, email = _signing()
    now = int(time.time())
    payload = {
        "iss": email,
        "sub": email,
        "aud": AUDIENCE,
        "iat": now,
        "exp": now + max(1, min(seconds, MAX_SECONDS)),
        "uid": uid,
        "claims": claims,
    }
    return jwt.encode(signer, payload).decode()
