"""Realtime over the local stack: POST /v1/me/realtime-token mints a Firebase custom token
(RS256, signed by the stack's service-account key) whose claims carry the caller's channels,
roles and the spaces a student may see; those claims open exactly the right documents under
terraform/firestore.rules in the emulator; and community writes over HTTP reach the Firestore
projection (outbox -> Pub/Sub -> community_projection), removals and bans at once."""

import json
from pathlib import Path

import jwt
import pytest
import requests
from cryptography.hazmat.primitives.serialization import load_pem_private_key

from tests.factories import make_course
from tests.helpers import assert_problem, eventually, make_channel, member_of, signup
from tests.helpers import channel_url as api
from tests.integration.realtime.rules_emulator import Emulator

pytestmark = pytest.mark.e2e
AUDIENCE = (
    "https://identitytoolkit.googleapis.com/google.identity.identitytoolkit.v1.IdentityToolkit"
)


@pytest.fixture
def admin(admin_db):
    conn = admin_db()
    yield conn
    conn.close()


@pytest.fixture
def school(gateway_url, admin):
    owner = signup(gateway_url, name="Olga Owner")
    cid = make_channel(gateway_url, owner)["id"]
    course = make_course(admin, cid, owner.id, lessons=(("text", None),))["id"]
    spaces = {}
    for name, audience in (("General", "members"), ("Course room", {"course_id": course})):
        r = requests.post(api(gateway_url, cid, "/spaces"), headers=owner.headers, timeout=10,
                          json={"name": name, "audience": audience})  # fmt: skip
        assert r.status_code == 201, r.text
        spaces[name] = r.json()["id"]
    return {"owner": owner, "cid": cid, "course": course,
            "members": spaces["General"], "course_space": spaces["Course room"]}  # fmt: skip


@pytest.fixture(scope="module")
def signing_key(stack):
    doc = json.loads(Path(stack.env["SIGNING_KEY_FILE"]).read_text())
    public = load_pem_private_key(doc["private_key"].encode(), password=None).public_key()
    return {"email": doc["client_email"], "public": public}


def mint(gw: str, user) -> dict:
    r = requests.post(f"{gw}/v1/me/realtime-token", headers=user.headers, timeout=10)
    assert r.status_code == 200, r.text
    return r.json()


def verified(body: dict, key: dict) -> dict:
    """The custom token checked as Firebase Auth checks it: signature, audience, issuer."""
    header = jwt.get_unverified_header(body["token"])
    assert header["alg"] == "RS256"
    claims = jwt.decode(body["token"], key["public"], algorithms=["RS256"], audience=AUDIENCE)
    assert claims["iss"] == claims["sub"] == key["email"]
    assert 0 < claims["exp"] - claims["iat"] <= 3600 and body["expires_in"] == 3600
    assert len(json.dumps(claims["claims"], separators=(",", ":"))) < 1000
    return claims


def test_token_carries_channels_roles_and_the_spaces_a_student_may_see(
    gateway_url, school, signing_key
):
    s = school
    student = member_of(gateway_url, s["cid"], s["owner"], "student")
    moderator = member_of(gateway_url, s["cid"], s["owner"], "moderator")

    token = verified(mint(gateway_url, student), signing_key)
    assert token["uid"] == student.id
    assert token["claims"] == {"ch": {s["cid"]: "s"}, "sp": [s["members"]]}

    r = requests.post(api(gateway_url, s["cid"], f"/courses/{s['course']}/enroll"),
                      headers=student.headers, timeout=10)  # fmt: skip
    assert r.status_code in (200, 201), r.text
    token = verified(mint(gateway_url, student), signing_key)
    assert token["claims"]["sp"] == sorted([s["members"], s["course_space"]])

    staff = verified(mint(gateway_url, moderator), signing_key)
    assert staff["uid"] == moderator.id
    assert staff["claims"] == {"ch": {s["cid"]: "m"}, "sp": []}  # staff read by role

    owner = verified(mint(gateway_url, s["owner"]), signing_key)
    assert owner["claims"]["ch"] == {s["cid"]: "o"}


def test_token_needs_a_signed_in_caller(gateway_url):
    assert_problem(requests.post(f"{gateway_url}/v1/me/realtime-token", timeout=10), 401)
    bad = {"Authorization": "Bearer not-a-token"}
    r = requests.post(f"{gateway_url}/v1/me/realtime-token", headers=bad, timeout=10)
    assert_problem(r, 401)
    loner = signup(gateway_url)  # a member of nothing reads nothing
    body = mint(gateway_url, loner)
    assert jwt.decode(body["token"], options={"verify_signature": False})["claims"] == {
        "ch": {}, "sp": [],
    }  # fmt: skip


def test_minted_claims_open_exactly_the_callers_spaces_under_the_rules(gateway_url, school, stack):
    s = school
    student = member_of(gateway_url, s["cid"], s["owner"], "student")
    outsider = signup(gateway_url)
    make_channel(gateway_url, outsider)  # an owner elsewhere
    emu = Emulator(stack.env["FIRESTORE_EMULATOR_HOST"])
    general = f"channels/{s['cid']}/spaces/{s['members']}/posts/p1"
    course_room = f"channels/{s['cid']}/spaces/{s['course_space']}/posts/p2"
    for path in (general, course_room):
        emu.seed(path, {"title": "hello"})

    def claims(user) -> dict:
        token = mint(gateway_url, user)["token"]
        return jwt.decode(token, options={"verify_signature": False})["claims"]

    mine = claims(student)
    assert emu.get(general, student.id, mine) == 200
    assert emu.get(course_room, student.id, mine) == 403
    assert emu.get(general, outsider.id, claims(outsider)) == 403
    assert emu.get(course_room, s["owner"].id, claims(s["owner"])) == 200


def test_posts_reach_firestore_and_removals_and_bans_take_effect_at_once(
    gateway_url, school, stack
):
    from google.cloud import firestore

    s, db = school, firestore.Client(project=stack.project)
    student = member_of(gateway_url, s["cid"], s["owner"], "student")
    moderator = member_of(gateway_url, s["cid"], s["owner"], "moderator")

    def doc(path: str) -> dict | None:
        snap = db.document(path).get()
        return snap.to_dict() if snap.exists else None

    r = requests.post(api(gateway_url, s["cid"], f"/spaces/{s['members']}/posts"),
                      json={"title": "Live", "body": "Hello **realtime**"},
                      headers=student.headers, timeout=10)  # fmt: skip
    assert r.status_code == 201, r.text
    post = r.json()
    path = f"channels/{s['cid']}/spaces/{s['members']}/posts/{post['id']}"
    got = eventually(lambda: doc(path), timeout=20, what="the post projected")
    assert got["title"] == "Live" and got["body_html"] == post["body_html"]
    assert got["author"]["user_id"] == student.id and "body" not in got

    r = requests.post(api(gateway_url, s["cid"], f"/posts/{post['id']}/comments"),
                      json={"body": "Welcome!"}, headers=moderator.headers, timeout=10)  # fmt: skip
    assert r.status_code == 201, r.text
    comment = eventually(lambda: doc(f"{path}/comments/{r.json()['id']}"), timeout=20)
    assert comment["body_html"] == r.json()["body_html"]
    notes = eventually(
        lambda: [d.to_dict() for d in db.collection(f"users/{student.id}/notifications").get()],
        timeout=20, what="the reply notification projected",
    )  # fmt: skip
    assert notes[0]["kind"] == "reply" and notes[0]["read"] is False

    r = requests.post(api(gateway_url, s["cid"], f"/posts/{post['id']}/reactions"),
                      json={"kind": "like"}, headers=moderator.headers, timeout=10)  # fmt: skip
    assert r.status_code == 201, r.text
    eventually(lambda: (doc(path) or {}).get("reactions"), {"like": 1}, timeout=20)

    r = requests.post(api(gateway_url, s["cid"], "/moderation/actions"), headers=moderator.headers,
                      json={"target_type": "post", "target_id": post["id"], "action": "ban_user",
                            "reason": "spam", "ban_days": 3}, timeout=10)  # fmt: skip
    assert r.status_code == 200, r.text
    ban = eventually(lambda: doc(f"channels/{s['cid']}/bans/{student.id}"), timeout=20)
    assert ban["ends_at"].timestamp() > 0

    r = requests.post(api(gateway_url, s["cid"], "/moderation/actions"), headers=moderator.headers,
                      json={"target_type": "post", "target_id": post["id"], "action": "remove",
                            "reason": "spam"}, timeout=10)  # fmt: skip
    assert r.status_code == 200, r.text
    eventually(lambda: doc(path), None, timeout=20)  # removed content leaves the projection

    r = requests.delete(api(gateway_url, s["cid"], f"/bans/{student.id}"),
                        headers=moderator.headers, timeout=10)  # fmt: skip
    assert r.status_code == 204, r.text
    eventually(lambda: doc(f"channels/{s['cid']}/bans/{student.id}"), None, timeout=20)
    db.close()
