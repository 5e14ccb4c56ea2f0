"""Enrollment rules (shared.enrollments) on real Postgres: seats, duplicates, 402, ending."""

from __future__ import annotations

import json
import threading
from decimal import Decimal

import pytest

from shared.channels import service as channels
from shared.identity import service as identity
from shared.learning import enrollments
from shared.learning import service as learning
from shared.platform.db import transaction
from shared.platform.errors import Conflict, NotFound, PaymentRequired
from shared.platform.ids import uuid7
from tests.helpers import PASSWORD, unique

pytestmark = pytest.mark.usefixtures("stack")


# -- data helpers (also used by test_learning_*.py) ------------------------------------------
def new_user(name: str = "L") -> str:
    out = identity.signup(
        email=f"{unique('lrn')}@example.com",
        password=PASSWORD,
        display_name=name,
        client_ip=unique("ip"),
    )
    return out["user"]["id"]


def new_channel(owner: str, theme: dict | None = None) -> str:
    return channels.create_channel(
        user_id=owner, slug=unique("lc"), name="Learn", theme=theme or {}
    )["id"]


def make_course(
    admin,
    channel_id: str,
    owner: str,
    *,
    status: str = "published",
    price: int | None = None,
    lessons=(("video", 10.0),),
    title: str = "Course",
    description: str = "",
) -> dict:
    """A course with lessons, written as the superuser (fast, no dependency on `courses`)."""
    course_id = uuid7()
    admin.run(
        "INSERT INTO courses (id, channel_id, title, description, status, price_amount,"
        " price_currency, created_by, published_at) VALUES (:i, :c, :t, :d, :s, :p, :cur, :u,"
        " CASE WHEN :s = 'published' THEN now() END)",
        i=course_id,
        c=channel_id,
        t=title,
        d=description,
        s=status,
        p=price,
        cur="usd" if price else None,
        u=owner,
    )
    ids = []
    for pos, (kind, duration) in enumerate(lessons, start=1):
        lid = uuid7()
        ready = kind != "video" or duration is not None
        admin.run(
            "INSERT INTO lessons (id, channel_id, course_id, position, title, kind, status,"
            " video_object, duration_seconds) VALUES (:i, :c, :co, :p, :t, :k, :st, :v, :d)",
            i=lid,
            c=channel_id,
            co=course_id,
            p=pos,
            t=f"Lesson {pos}",
            k=kind,
            st="ready" if ready else "pending_media",
            v=f"channels/{channel_id}/lessons/{lid}.mp4" if kind == "video" and ready else None,
            d=Decimal(str(duration)) if duration else None,
        )
        ids.append(lid)
    return {"id": course_id, "lessons": ids}


def make_batch(admin, channel_id: str, course_id: str, capacity: int | None) -> str:
    bid = uuid7()
    admin.run(
        "INSERT INTO batches (id, channel_id, course_id, name, starts_at, capacity)"
        " VALUES (:i, :c, :co, 'B', now(), :cap)",
        i=bid,
        c=channel_id,
        co=course_id,
        cap=capacity,
    )
    return bid


def outbox_events(admin, channel_id: str, event_type: str) -> list[dict]:
    rows = admin.run(
        "SELECT payload FROM outbox WHERE channel_id = :c AND event_type = :t ORDER BY occurred_at",
        c=channel_id,
        t=event_type,
    )
    return [r[0] if isinstance(r[0], dict) else json.loads(r[0]) for r in rows]


@pytest.fixture
def admin(admin_db):
    conn = admin_db()
    yield conn
    conn.close()


@pytest.fixture
def world(admin):
    owner = new_user("Owner")
    channel = new_channel(owner)
    return {"owner": owner, "channel": channel}


# -- tests -------------------------------------------------------------------------------------
def test_free_enrollment_makes_a_student_member_with_event_and_audit(world, admin):
    course = make_course(admin, world["channel"], world["owner"])
    student = new_user()
    row = learning.enroll(
        channel_id=world["channel"], course_id=course["id"], user_id=student, batch_id=None
    )
    assert row["status"] == "active" and row["source"] == "free"
    role = admin.run(
        "SELECT role FROM memberships WHERE channel_id = :c AND user_id = :u",
        c=world["channel"],
        u=student,
    )
    assert role == [["student"]]
    events = outbox_events(admin, world["channel"], "enrollment.created")
    assert [e["enrollment_id"] for e in events] == [str(row["id"])]
    audited = admin.run(
        "SELECT count(*) FROM audit_log WHERE channel_id = :c"
        " AND action = 'enrollment.created' AND target_id = :t",
        c=world["channel"],
        t=str(row["id"]),
    )
    assert audited == [[1]]


def test_second_enrollment_is_409_and_writes_nothing(world, admin):
    course = make_course(admin, world["channel"], world["owner"])
    student = new_user()
    learning.enroll(
        channel_id=world["channel"], course_id=course["id"], user_id=student, batch_id=None
    )
    with pytest.raises(Conflict):
        learning.enroll(
            channel_id=world["channel"], course_id=course["id"], user_id=student, batch_id=None
        )
    assert len(outbox_events(admin, world["channel"], "enrollment.created")) == 1


def test_paid_course_is_402_checkout_required_and_writes_nothing(world, admin):
    course = make_course(admin, world["channel"], world["owner"], price=1999)
    student = new_user()
    with pytest.raises(PaymentRequired) as err:
        learning.enroll(
            channel_id=world["channel"], course_id=course["id"], user_id=student, batch_id=None
        )
    assert err.value.extra == {"checkout_required": True}
    n = admin.run("SELECT count(*) FROM enrollments WHERE user_id = :u", u=student)
    assert n == [[0]]
    # the billing path (Stripe webhook) enrolls with source='paid'
    with transaction(channel_id=world["channel"], user_id=student) as tx:
        row = enrollments.create_enrollment(
            tx, course_id=course["id"], user_id=student, source="paid"
        )
    assert row["source"] == "paid"


@pytest.mark.parametrize("status", ["draft", "archived"])
def test_unpublished_course_cannot_be_enrolled(world, admin, status):
    course = make_course(admin, world["channel"], world["owner"], status=status)
    expected = NotFound if status == "draft" else Conflict
    with pytest.raises(expected):
        learning.enroll(
            channel_id=world["channel"], course_id=course["id"], user_id=new_user(), batch_id=None
        )
    with pytest.raises(NotFound):
        learning.enroll(
            channel_id=world["channel"], course_id=uuid7(), user_id=new_user(), batch_id=None
        )
    with pytest.raises(NotFound):
        learning.enroll(
            channel_id=world["channel"], course_id="not-a-uuid", user_id=new_user(), batch_id=None
        )


def test_course_of_another_channel_is_404(world, admin):
    other_owner = new_user()
    other = new_channel(other_owner)
    course = make_course(admin, other, other_owner)
    with pytest.raises(NotFound):
        learning.enroll(
            channel_id=world["channel"], course_id=course["id"], user_id=new_user(), batch_id=None
        )


def test_batch_capacity_holds_under_concurrent_enrollments(world, admin):
    course = make_course(admin, world["channel"], world["owner"])
    batch = make_batch(admin, world["channel"], course["id"], capacity=3)
    students = [new_user() for _ in range(10)]
    results: list[str] = []
    barrier = threading.Barrier(len(students))

    def go(user: str) -> None:
        barrier.wait()
        try:
            learning.enroll(
                channel_id=world["channel"], course_id=course["id"], user_id=user, batch_id=batch
            )
            results.append("ok")
        except Conflict as e:
            results.append(e.detail)

    threads = [threading.Thread(target=go, args=(u,)) for u in students]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == ["batch full"] * 7 + ["ok"] * 3
    seats = admin.run("SELECT seats_taken FROM batches WHERE id = :b", b=batch)
    enrolled = admin.run("SELECT count(*) FROM enrollments WHERE batch_id = :b", b=batch)
    assert seats == [[3]] and enrolled == [[3]]
    assert len(outbox_events(admin, world["channel"], "enrollment.created")) == 3


def test_same_student_enrolling_five_times_at_once_enrolls_once(world, admin):
    course = make_course(admin, world["channel"], world["owner"])
    batch = make_batch(admin, world["channel"], course["id"], capacity=10)
    student = new_user()
    outcomes: list[str] = []
    barrier = threading.Barrier(5)

    def go() -> None:
        barrier.wait()
        try:
            learning.enroll(
                channel_id=world["channel"], course_id=course["id"], user_id=student, batch_id=batch
            )
            outcomes.append("ok")
        except Conflict:
            outcomes.append("409")

    threads = [threading.Thread(target=go) for _ in range(5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["409"] * 4 + ["ok"]
    assert admin.run("SELECT seats_taken FROM batches WHERE id = :b", b=batch) == [[1]]


def test_batch_of_another_course_is_404(world, admin):
    course = make_course(admin, world["channel"], world["owner"])
    other_course = make_course(admin, world["channel"], world["owner"])
    batch = make_batch(admin, world["channel"], other_course["id"], capacity=None)
    with pytest.raises(NotFound):
        learning.enroll(
            channel_id=world["channel"], course_id=course["id"], user_id=new_user(), batch_id=batch
        )
    assert admin.run("SELECT seats_taken FROM batches WHERE id = :b", b=batch) == [[0]]


def test_end_frees_the_seat_is_idempotent_and_reenrolling_reactivates(world, admin):
    course = make_course(admin, world["channel"], world["owner"])
    batch = make_batch(admin, world["channel"], course["id"], capacity=1)
    student = new_user()
    row = learning.enroll(
        channel_id=world["channel"], course_id=course["id"], user_id=student, batch_id=batch
    )
    with transaction(channel_id=world["channel"]) as tx:
        assert enrollments.end_enrollment(tx, enrollment_id=str(row["id"]), reason="refunded")
    with transaction(channel_id=world["channel"]) as tx:
        assert not enrollments.end_enrollment(tx, enrollment_id=str(row["id"]), reason="again")
    assert admin.run("SELECT seats_taken FROM batches WHERE id = :b", b=batch) == [[0]]
    assert len(outbox_events(admin, world["channel"], "enrollment.ended")) == 1
    again = learning.enroll(
        channel_id=world["channel"], course_id=course["id"], user_id=student, batch_id=batch
    )
    assert again["id"] == row["id"] and again["status"] == "active"
    assert admin.run("SELECT seats_taken FROM batches WHERE id = :b", b=batch) == [[1]]
    with transaction(channel_id=world["channel"]) as tx, pytest.raises(NotFound):
        enrollments.end_enrollment(tx, enrollment_id=uuid7(), reason="x")


def test_my_enrollments_span_channels_and_paginate(admin):
    student = new_user()
    made = []
    for _ in range(3):
        owner = new_user()
        channel = new_channel(owner)
        course = make_course(admin, channel, owner, title=f"C {unique()}")
        made.append(
            learning.enroll(
                channel_id=channel, course_id=course["id"], user_id=student, batch_id=None
            )["id"]
        )
    first = learning.my_enrollments(user_id=student, limit=2, cursor=None)
    assert len(first["items"]) == 2 and first["next_cursor"]
    rest = learning.my_enrollments(user_id=student, limit=2, cursor=first["next_cursor"])
    ids = [i["id"] for i in first["items"] + rest["items"]]
    assert ids == list(reversed(made)) and rest["next_cursor"] is None
    assert all(i["course"]["title"].startswith("C ") for i in first["items"])
    # somebody else sees none of them
    assert learning.my_enrollments(user_id=new_user(), limit=10, cursor=None)["items"] == []
