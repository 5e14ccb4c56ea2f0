"""Enrollment rules (shared.enrollments) on real Postgres: seats, duplicates, 402, ending."""

from __future__ import annotations

import threading

import pytest

from shared.learning import enrollments
from shared.learning import service as learning
from shared.learning.schemas import EnrollIn
from shared.platform.db import transaction
from shared.platform.errors import Conflict, NotFound, PaymentRequired
from shared.platform.ids import uuid7
from tests.factories import make_batch, make_course, new_channel, new_user
from tests.helpers import outbox_events, unique

pytestmark = pytest.mark.usefixtures("stack")


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
        channel_id=world["channel"], course_id=course["id"], user_id=student, data=EnrollIn()
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
        channel_id=world["channel"], course_id=course["id"], user_id=student, data=EnrollIn()
    )
    with pytest.raises(Conflict):
        learning.enroll(
            channel_id=world["channel"], course_id=course["id"], user_id=student, data=EnrollIn()
        )
    assert len(outbox_events(admin, world["channel"], "enrollment.created")) == 1


def test_paid_course_is_402_checkout_required_and_writes_nothing(world, admin):
    course = make_course(admin, world["channel"], world["owner"], price=1999)
    student = new_user()
    with pytest.raises(PaymentRequired) as err:
        learning.enroll(
            channel_id=world["channel"], course_id=course["id"], user_id=student, data=EnrollIn()
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
            channel_id=world["channel"], course_id=course["id"], user_id=new_user(), data=EnrollIn()
        )
    with pytest.raises(NotFound):
        learning.enroll(
            channel_id=world["channel"], course_id=uuid7(), user_id=new_user(), data=EnrollIn()
        )
    with pytest.raises(NotFound):
        learning.enroll(
            channel_id=world["channel"], course_id="not-a-uuid", user_id=new_user(), data=EnrollIn()
        )


def test_course_of_another_channel_is_404(world, admin):
    other_owner = new_user()
    other = new_channel(other_owner)
    course = make_course(admin, other, other_owner)
    with pytest.raises(NotFound):
        learning.enroll(
            channel_id=world["channel"], course_id=course["id"], user_id=new_user(), data=EnrollIn()
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
                channel_id=world["channel"],
                course_id=course["id"],
                user_id=user,
                data=EnrollIn(batch_id=batch),
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
                channel_id=world["channel"],
                course_id=course["id"],
                user_id=student,
                data=EnrollIn(batch_id=batch),
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
            channel_id=world["channel"],
            course_id=course["id"],
            user_id=new_user(),
            data=EnrollIn(batch_id=batch),
        )
    assert admin.run("SELECT seats_taken FROM batches WHERE id = :b", b=batch) == [[0]]


def test_end_frees_the_seat_is_idempotent_and_reenrolling_reactivates(world, admin):
    course = make_course(admin, world["channel"], world["owner"])
    batch = make_batch(admin, world["channel"], course["id"], capacity=1)
    student = new_user()
    row = learning.enroll(
        channel_id=world["channel"],
        course_id=course["id"],
        user_id=student,
        data=EnrollIn(batch_id=batch),
    )
    with transaction(channel_id=world["channel"]) as tx:
        assert enrollments.end_enrollment(tx, enrollment_id=str(row["id"]), reason="refunded")
    with transaction(channel_id=world["channel"]) as tx:
        assert not enrollments.end_enrollment(tx, enrollment_id=str(row["id"]), reason="again")
    assert admin.run("SELECT seats_taken FROM batches WHERE id = :b", b=batch) == [[0]]
    assert len(outbox_events(admin, world["channel"], "enrollment.ended")) == 1
    again = learning.enroll(
        channel_id=world["channel"],
        course_id=course["id"],
        user_id=student,
        data=EnrollIn(batch_id=batch),
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
                channel_id=channel, course_id=course["id"], user_id=student, data=EnrollIn()
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
