"""terraform/firestore.rules loaded into the official Firestore emulator, exercised over its REST
API the way a signed-in client reads: allowed and denied reads for staff, students with and
without the space in their claims, members of other channels, banned members (an active ban, a
lapsed one), anonymous callers; claims that overflowed into the grants document; a removed
post's comments; the server's bookkeeping; and every write refused.

The emulator takes an unsigned ID token (alg none) as that user's request; `Bearer owner`
bypasses the rules (how the fixtures are seeded). A project of its own keeps these rules away
from the stack's project, which the other tests write without rules.
"""

import uuid
from datetime import UTC, datetime, timedelta

import pytest
import requests

from tests.integration.realtime.rules_emulator import Emulator

pytestmark = pytest.mark.usefixtures("stack")


def ids(n: int) -> list[str]:
    return [str(uuid.uuid4()) for _ in range(n)]


@pytest.fixture(scope="module")
def world(stack):
    emu = Emulator(stack.env["FIRESTORE_EMULATOR_HOST"])
    c, other_c, members, course, comment, note = ids(6)
    w = {"emu": emu, "c": c, "other_c": other_c, "members": members, "course": course}
    w["post"] = f"channels/{c}/spaces/{members}/posts/{uuid.uuid4()}"
    w["course_post"] = f"channels/{c}/spaces/{course}/posts/{uuid.uuid4()}"
    w["other_post"] = f"channels/{other_c}/spaces/{uuid.uuid4()}/posts/{uuid.uuid4()}"
    w["comment"] = f"{w['post']}/comments/{comment}"
    w["orphan"] = f"channels/{c}/spaces/{members}/posts/{uuid.uuid4()}/comments/{uuid.uuid4()}"
    for path in (w["post"], w["course_post"], w["other_post"], w["comment"], w["orphan"]):
        emu.seed(path, {"title": "hello", "version": "1"})
    w["staff"], w["student"], w["enrolled"], w["outsider"], w["banned"], w["lapsed"] = ids(6)
    w["note"] = f"users/{w['student']}/notifications/{note}"
    emu.seed(w["note"], {"title": "A reply", "read": False})
    now = datetime.now(UTC)
    emu.seed(f"channels/{c}/bans/{w['banned']}", {"ends_at": now + timedelta(days=3)})
    emu.seed(f"channels/{c}/bans/{w['lapsed']}", {"ends_at": now - timedelta(minutes=1)})
    emu.seed(f"projection_versions/{uuid.uuid4()}", {"version": "1"})
    w["claims"] = {
        "staff": {"ch": {c: "m"}, "sp": []},
        "student": {"ch": {c: "s"}, "sp": []},
        "enrolled": {"ch": {c: "s"}, "sp": [members, course]},
        "outsider": {"ch": {other_c: "s"}, "sp": []},
        "banned": {"ch": {c: "s"}, "sp": [members]},
        "lapsed": {"ch": {c: "s"}, "sp": [members]},
    }
    w["claims"]["student"]["sp"] = [members]
    return w


def reads(w, who: str, path: str) -> int:
    return w["emu"].get(path, w[who], w["claims"][who])


def test_staff_read_every_space_of_their_channel_only(world):
    assert reads(world, "staff", world["post"]) == 200
    assert reads(world, "staff", world["course_post"]) == 200
    assert reads(world, "staff", world["comment"]) == 200
    assert reads(world, "staff", world["other_post"]) == 403


def test_students_read_the_spaces_their_claims_name(world):
    assert reads(world, "student", world["post"]) == 200
    assert reads(world, "student", world["comment"]) == 200
    assert reads(world, "student", world["course_post"]) == 403  # not enrolled in that course
    assert reads(world, "enrolled", world["course_post"]) == 200
    w, emu = world, world["emu"]
    course_posts = world["course_post"].rsplit("/", 1)[0]
    assert emu.list(course_posts, w["student"], w["claims"]["student"]) == 403
    assert emu.list(course_posts, w["enrolled"], w["claims"]["enrolled"]) == 200


def test_members_of_other_channels_and_anonymous_read_nothing(world):
    for path in (world["post"], world["course_post"], world["comment"], world["note"]):
        assert reads(world, "outsider", path) == 403, path
        assert world["emu"].get(path, None) == 403, path
    assert world["emu"].get(world["post"], world["outsider"], {}) == 403  # a token without claims


def test_a_banned_member_reads_nothing_of_the_channel_until_the_ban_lapses(world):
    assert reads(world, "banned", world["post"]) == 403
    assert reads(world, "banned", world["comment"]) == 403
    posts = world["post"].rsplit("/", 1)[0]
    assert world["emu"].list(posts, world["banned"], world["claims"]["banned"]) == 403
    assert reads(world, "lapsed", world["post"]) == 200


def test_lifting_a_ban_takes_effect_at_once(world):
    emu, c = world["emu"], world["c"]
    uid = str(uuid.uuid4())
    claims = {"ch": {c: "s"}, "sp": [world["members"]]}
    emu.seed(f"channels/{c}/bans/{uid}", {"ends_at": datetime.now(UTC) + timedelta(days=1)})
    assert emu.get(world["post"], uid, claims) == 403
    emu.remove(f"channels/{c}/bans/{uid}")
    assert emu.get(world["post"], uid, claims) == 200


def test_comments_of_a_post_no_longer_projected_are_hidden(world):
    assert reads(world, "staff", world["orphan"]) == 403
    assert reads(world, "student", world["orphan"]) == 403


def test_notifications_are_their_owners_alone(world):
    w = world
    assert reads(w, "student", w["note"]) == 200
    assert w["emu"].list(w["note"].rsplit("/", 1)[0], w["student"], w["claims"]["student"]) == 200
    assert reads(w, "staff", w["note"]) == 403
    assert reads(w, "enrolled", w["note"]) == 403


def test_overflowed_claims_are_read_from_the_grants_document(world):
    emu, c = world["emu"], world["c"]
    uid = str(uuid.uuid4())
    emu.seed(f"realtime_grants/{uid}", {"ch": {c: "s"}, "sp": {world["members"]: True}})
    assert emu.get(world["post"], uid, {"g": 1}) == 200
    assert emu.get(world["course_post"], uid, {"g": 1}) == 403
    assert emu.get(world["post"], str(uuid.uuid4()), {"g": 1}) == 403  # no grants document


def test_bookkeeping_is_never_readable(world):
    emu, w = world["emu"], world
    for path in (f"channels/{w['c']}/bans/{w['banned']}", "projection_versions",
                 f"realtime_grants/{w['staff']}"):  # fmt: skip
        assert emu.get(path, w["staff"], w["claims"]["staff"]) == 403, path
        assert emu.get(path, w["banned"], w["claims"]["banned"]) == 403, path


def test_every_write_is_refused(world):
    w, emu = world, world["emu"]
    targets = [
        w["post"],
        w["comment"],
        w["note"],
        f"channels/{w['c']}/bans/{w['banned']}",
        f"{w['post'].rsplit('/', 1)[0]}/{uuid.uuid4()}",
        f"realtime_grants/{w['banned']}",
    ]
    for path in targets:
        for who in ("staff", "student", "banned"):
            assert emu.write(path, w[who], w["claims"][who]) == 403, (who, path)
        assert emu.write(path, None) == 403, path
    staff = emu.headers(w["staff"], w["claims"]["staff"])
    r = requests.delete(f"{emu.base}/{w['post']}", headers=staff, timeout=60)
    assert r.status_code == 403
    assert reads(w, "student", w["post"]) == 200  # still there, unchanged
