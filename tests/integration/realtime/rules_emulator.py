"""The official Firestore emulator with terraform/firestore.rules loaded into a project of its
own, spoken to over its REST API as a signed-in Firebase client would: an unsigned ID token
(alg none) acts as that user, `Bearer owner` bypasses the rules (seeding)."""

import base64
import json
import time
import uuid
from datetime import datetime
from pathlib import Path

import requests

RULES = Path(__file__).resolve().parents[3] / "terraform" / "firestore.rules"
OWNER = {"Authorization": "Bearer owner"}


def b64(obj: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()


def id_token(project: str, uid: str, claims: dict) -> str:
    """What Firebase Auth issues after signInWithCustomToken: the custom token's `claims` become
    top-level claims of the ID token."""
    now = int(time.time())
    payload = {
        "iss": f"https://securetoken.google.com/{project}", "aud": project, "sub": uid,
        "user_id": uid, "iat": now, "exp": now + 3600, "auth_time": now,
        "firebase": {"sign_in_provider": "custom", "identities": {}}, **claims,
    }  # fmt: skip
    return f"{b64({'alg': 'none', 'typ': 'JWT'})}.{b64(payload)}."


def value(v):
    if isinstance(v, bool):
        return {"booleanValue": v}
    if isinstance(v, datetime):
        return {"timestampValue": v.isoformat().replace("+00:00", "Z")}
    if isinstance(v, dict):
        return {"mapValue": {"fields": {k: value(x) for k, x in v.items()}}}
    if isinstance(v, list):
        return {"arrayValue": {"values": [value(x) for x in v]}}
    if v is None:
        return {"nullValue": None}
    return {"stringValue": str(v)}


class Emulator:
    def __init__(self, host: str) -> None:
        self.project = f"rules-{uuid.uuid4().hex[:10]}"
        self.base = f"http://{host}/v1/projects/{self.project}/databases/(default)/documents"
        r = requests.put(
            f"http://{host}/emulator/v1/projects/{self.project}:securityRules",
            json={"rules": {"files": [{"name": "firestore.rules", "content": RULES.read_text()}]}},
            timeout=60,
        )
        assert r.status_code == 200, r.text

    def seed(self, path: str, fields: dict) -> None:
        body = {"fields": {k: value(v) for k, v in fields.items()}}
        r = requests.patch(f"{self.base}/{path}", json=body, headers=OWNER, timeout=60)
        assert r.status_code == 200, r.text

    def remove(self, path: str) -> None:
        assert requests.delete(f"{self.base}/{path}", headers=OWNER, timeout=60).ok

    def headers(self, uid: str | None, claims: dict | None = None) -> dict:
        if uid is None:
            return {}
        return {"Authorization": f"Bearer {id_token(self.project, uid, claims or {})}"}

    def get(self, path: str, uid: str | None, claims: dict | None = None) -> int:
        return requests.get(f"{self.base}/{path}", headers=self.headers(uid, claims),
                            timeout=60).status_code  # fmt: skip

    def list(self, collection: str, uid: str | None, claims: dict | None = None) -> int:
        return self.get(collection, uid, claims)

    def write(self, path: str, uid: str | None, claims: dict | None = None) -> int:
        body = {"fields": {"title": value("defaced")}}
        headers = self.headers(uid, claims)
        return requests.patch(
            f"{self.base}/{path}", json=body, headers=headers, timeout=60
        ).status_code
