"""Minting the realtime token in process against real Postgres and the Firestore emulator: a
student of many channels whose claims would pass Firebase's limit gets `g: 1` and a grants
document that the rules honour; an account that no longer exists gets no token."""

import uuid

import jwt
import pytest

from shared import realtime
from shared.platform.errors import RateLimited, Unauthorized
from shared.platform.ids import uuid7
from tests.factories import new_channel, new_user
from tests.integration.realtime.rules_emulator import Emulator

pytestmark = pytest.mark.usefixtures("stack")


def claims_of(token: str) -> dict:
    return jwt.decode(token, options={"verify_signature": False})["claims"]


def space(admin, channel_id: str) -> str:
    sid = uuid7()
    admin.run(
        "INSERT INTO spaces (id, channel_id, name, audience_kind) VALUES (:i, :c, 'S', 'members')",
        i=sid,
        c=channel_id,
    )
    return sid


def test_overflowing_claims_move_to_the_grants_document_the_rules_read(admin_db, stack):
    from google.cloud import firestore

    admin = admin_db()
    student = new_user("Many channels")
    spaces = {}
    for _ in range(8):
        cid = new_channel(new_user("Owner"))
        admin.run(
            "INSERT INTO memberships (channel_id, user_id, role) VALUES (:c, :u, 'student')",
            c=cid,
            u=student,
        )
        spaces[cid] = [space(admin, cid) for _ in range(3)]
    admin.close()

    out = realtime.mint_token(user_id=student)
    assert claims_of(out.token) == {"g": 1}
    db = firestore.Client(project=stack.project)
    grant = db.document(f"realtime_grants/{student}").get().to_dict()
    db.close()
    assert grant["ch"] == dict.fromkeys(spaces, "s") and grant["user_id"] == student
    assert set(grant["sp"]) == {s for ids in spaces.values() for s in ids}

    emu = Emulator(stack.env["FIRESTORE_EMULATOR_HOST"])
    cid, sid = next(iter(spaces.items()))
    emu.seed(f"realtime_grants/{student}", grant)
    emu.seed(f"channels/{cid}/spaces/{sid[0]}/posts/p", {"title": "t"})
    other = f"channels/{cid}/spaces/{uuid.uuid4()}/posts/p"
    emu.seed(other, {"title": "t"})
    assert emu.get(f"channels/{cid}/spaces/{sid[0]}/posts/p", student, {"g": 1}) == 200
    assert emu.get(other, student, {"g": 1}) == 403  # a space the grants do not name
    assert emu.list(f"channels/{cid}/spaces/{sid[0]}/posts", student, {"g": 1}) == 200


def test_an_unknown_account_gets_no_token():
    with pytest.raises(Unauthorized):
        realtime.mint_token(user_id=str(uuid.uuid4()))


def test_minting_is_rate_limited_per_caller(monkeypatch):
    from shared.realtime import tokens

    monkeypatch.setattr(tokens, "MINT_LIMIT", "3/600")
    user, other = new_user("Eager"), new_user("Calm")
    for _ in range(3):
        assert realtime.mint_token(user_id=user).expires_in == 3600
    with pytest.raises(RateLimited):
        realtime.mint_token(user_id=user)
    assert realtime.mint_token(user_id=other).token  # another caller is not held back
