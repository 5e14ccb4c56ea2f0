"""The community's SQL against real Postgres: community_space_visible() and
shared.community.rules.space_visible hold one truth table; row-level security keeps each
channel's community to itself and each person's notifications to them; concurrent flags
auto-hide a post exactly once."""

from __future__ import annotations

import itertools
from concurrent.futures import ThreadPoolExecutor

import pytest

from shared import community
from shared.community.schemas import CommentIn, PostIn, SpaceIn
from shared.platform import outbox
from shared.platform.db import transaction
from shared.platform.errors import NotFound
from shared.platform.ids import uuid7
from tests.factories import enrolled_student, make_batch, make_course, new_channel, new_user

pytestmark = pytest.mark.usefixtures("stack")


@pytest.fixture
def admin(admin_db):
    conn = admin_db()
    yield conn
    conn.close()


def _member(admin, channel_id: str, role: str) -> str:
    uid = uuid7()
    admin.run(
        "INSERT INTO users (id, email, display_name) VALUES (:i, :e, 'M')",
        i=uid,
        e=f"{uid}@example.com",
    )
    admin.run(
        "INSERT INTO memberships (channel_id, user_id, role) VALUES (:c, :u, :r)",
        c=channel_id,
        u=uid,
        r=role,
    )
    return uid


def test_space_visibility_sql_and_python_agree(admin):
    owner = new_user("Owner")
    cid = new_channel(owner)
    course = make_course(admin, cid, owner, lessons=())["id"]
    batch = make_batch(admin, cid, course, None)
    spaces = {
        "members": community.create_space(channel_id=cid, user_id=owner, data=SpaceIn(name="m")),
        "course": community.create_space(
            channel_id=cid, user_id=owner, data=SpaceIn(name="c", audience={"course_id": course})
        ),
        "batch": community.create_space(
            channel_id=cid, user_id=owner, data=SpaceIn(name="b", audience={"batch_id": batch})
        ),
    }
    outsider = new_user("Out")
    cases = []
    for role, enrolled, in_batch, ended in itertools.product(
        ("student", "moderator", "instructor", None), (False, True), (False, True), (False, True)
    ):
        if in_batch and not enrolled:
            continue
        uid = _member(admin, cid, role) if role else outsider
        if enrolled and role:
            admin.run(
                "INSERT INTO enrollments (id, channel_id, course_id, user_id, batch_id, source,"
                " status, ended_at) VALUES (:i, :c, :co, :u, :b, 'free', :st,"
                " CASE WHEN :st = 'ended' THEN now() END)",
                i=uuid7(),
                c=cid,
                co=course,
                u=uid,
                b=batch if in_batch else None,
                st="ended" if ended else "active",
            )
        active = enrolled and bool(role) and not ended
        cases.append((uid, role, active, active and in_batch))
    with transaction(channel_id=cid) as tx:
        for uid, role, in_course, in_b in cases:
            for kind, space in spaces.items():
                got = tx.scalar(
                    "SELECT community_space_visible(CAST(:s AS uuid), CAST(:u AS uuid))",
                    s=space["id"],
                    u=uid,
                )
                want = community.space_visible(
                    role=role,
                    audience_kind=kind,
                    enrolled_in_course=in_course,
                    enrolled_in_batch=in_b,
                )
                assert got is want, (role, kind, in_course, in_b)


def test_rls_keeps_a_channels_community_and_a_persons_notifications_apart(admin):
    a_owner, b_owner = new_user("A"), new_user("B")
    a, b = new_channel(a_owner), new_channel(b_owner)
    space = community.create_space(channel_id=a, user_id=a_owner, data=SpaceIn(name="s"))
    student = enrolled_student(admin, a, make_course(admin, a, a_owner, lessons=())["id"])
    post = community.create_post(
        channel_id=a, user_id=student, space_id=space["id"], data=PostIn(body="hi")
    )
    community.create_comment(
        channel_id=a,
        user_id=a_owner,
        post_id=post["id"],
        data=CommentIn(body="answer"),
    )
    with transaction(channel_id=b, user_id=b_owner) as tx:
        for table in ("spaces", "posts", "comments", "notifications", "flags", "bans"):
            assert tx.scalar(f"SELECT count(*) FROM {table}") == 0, table
    with pytest.raises(NotFound):  # another channel's post through channel b: no such post
        community.get_post(channel_id=b, user_id=b_owner, post_id=post["id"])
    # the student reads their own notification with no channel context; nobody else does
    with transaction(user_id=student) as tx:
        assert tx.scalar("SELECT count(*) FROM notifications") == 1
    with transaction(user_id=b_owner) as tx:
        assert tx.scalar("SELECT count(*) FROM notifications") == 0
        tx.exec(
            "INSERT INTO notification_preferences (user_id, replies) VALUES (:u, false)",
            u=b_owner,
        )
    with transaction(user_id=student) as tx:
        assert tx.scalar("SELECT count(*) FROM notification_preferences") == 0
    with pytest.raises(Exception, match="row-level security"), transaction(user_id=student) as tx:
        tx.exec(
            "INSERT INTO notification_preferences (user_id, replies) VALUES (:u, false)",
            u=b_owner,
        )


def test_concurrent_flags_hide_the_post_exactly_once(admin):
    owner = new_user("O")
    cid = new_channel(owner)
    space = community.create_space(channel_id=cid, user_id=owner, data=SpaceIn(name="s"))
    author = _member(admin, cid, "student")
    post = community.create_post(
        channel_id=cid, user_id=author, space_id=space["id"], data=PostIn(body="x")
    )
    reporters = [_member(admin, cid, "student") for _ in range(6)]

    def report(uid: str) -> str:
        with outbox.publishing_after_commit():
            return community.flag(
                channel_id=cid,
                user_id=uid,
                target_type="post",
                target_id=post["id"],
                reason="spam",
            )["id"]

    with ThreadPoolExecutor(max_workers=6) as pool:
        ids = list(pool.map(report, reporters))
    assert len(set(ids)) == 6
    rows = admin.run(
        "SELECT count(*) FILTER (WHERE event_type = 'post.removed'),"
        " (SELECT status FROM posts WHERE id = :p),"
        " (SELECT count(*) FROM moderation_actions WHERE target_id = :p AND action = 'auto_hide')"
        " FROM outbox WHERE channel_id = :c",
        c=cid,
        p=post["id"],
    )
    assert rows == [[1, "hidden", 1]]
