"""Test data factories: users, channels, courses, batches and enrollments.

One place that knows how to make each kind of row, so a test module never imports another test
module for its data helpers, and a change of a use case's signature is fixed here once.

Three families:
- in process (integration tests, `shared` on the test's own database connection):
  `new_user`, `new_channel`, `video_lesson_in_new_channel` go through the use cases (real
  password hashing, audit, events);
  `make_course`, `make_batch`, `enrolled_student` write rows as the superuser (fast, and
  independent of the catalog and enrollment rules the tests may be checking).
  Each returns ids (str) or a small dict of ids.
- generated: `random_beats`, a player's heartbeats for the reference-model tests.
- over HTTP (e2e tests, through the gateway): `course_with_video_lesson`; users and channels
  over HTTP are `tests.helpers.signup` / `make_channel` / `member_of`.
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

import requests

from shared import catalog, channels, identity
from shared.catalog.schemas import CourseIn, LessonIn
from shared.platform.ids import uuid7
from tests.helpers import PASSWORD, User, channel_url, unique

Lessons = Iterable[tuple[str, float | None]]


# -- in process ---------------------------------------------------------------------------------
def new_user(name: str = "L") -> str:
    """A signed-up user (the identity use case); returns the user id."""
    out = identity.signup(
        email=f"{unique('lrn')}@example.com",
        password=PASSWORD,
        display_name=name,
        client_ip=unique("ip"),
    )
    return out["user"]["id"]


def new_channel(owner: str, theme: dict | None = None, *, name: str = "Learn") -> str:
    """A channel owned by `owner` (the channels use case); returns the channel id."""
    channel = channels.create_channel(
        user_id=owner, slug=unique("lc"), name=name, theme=theme or {}
    )
    return channel["id"]


def video_lesson_in_new_channel() -> dict[str, str]:
    """A new owner and channel with a draft course holding one video lesson (pending its
    upload), made through the catalog use cases: {"channel_id", "owner", "course_id",
    "lesson_id"}."""
    owner = new_user("Owner")
    channel_id = new_channel(owner)
    course = catalog.create_course(channel_id=channel_id, user_id=owner, data=CourseIn(title="C"))
    lesson = catalog.create_lesson(
        channel_id=channel_id,
        user_id=owner,
        course_id=course["id"],
        data=LessonIn(title="V", kind="video"),
    )
    return {
        "channel_id": channel_id,
        "owner": owner,
        "course_id": course["id"],
        "lesson_id": lesson["id"],
    }


def make_course(
    admin,
    channel_id: str,
    owner: str,
    *,
    status: str = "published",
    price: int | None = None,
    lessons: Lessons = (("video", 10.0),),
    title: str = "Course",
    description: str = "",
) -> dict[str, Any]:
    """A course with lessons, written as the superuser: {"id": course id, "lessons": [ids]}.

    `lessons` are (kind, duration seconds); a video lesson with a duration is ready (it has a
    video object), one without is pending_media.
    """
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
    """A batch of the course starting now, written as the superuser; returns its id."""
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


def enrolled_student(admin, channel_id: str, course_id: str) -> str:
    """A fresh student enrolled (free) in the course, written as the superuser (no password
    hashing: cheap enough to make one per generated case); returns the user id."""
    uid = uuid7()
    admin.run(
        "INSERT INTO users (id, email, display_name) VALUES (:i, :e, 'S')",
        i=uid,
        e=f"{unique('hb')}@example.com",
    )
    admin.run(
        "INSERT INTO memberships (channel_id, user_id, role) VALUES (:c, :u, 'student')",
        c=channel_id,
        u=uid,
    )
    admin.run(
        "INSERT INTO enrollments (id, channel_id, course_id, user_id, source)"
        " VALUES (:i, :c, :co, :u, 'free')",
        i=uuid7(),
        c=channel_id,
        co=course_id,
        u=uid,
    )
    return uid


# -- generated data ---------------------------------------------------------------------------
def random_beats(rng: random.Random, duration: float, steps: int):
    """A player's beats as (position, playing, at_ms): real time moves on; the player plays,
    seeks, pauses and lies. The reference-model tests of the heartbeat SQL feed these."""
    t, playing = 0, True
    pos = rng.choice([0.0, round(rng.uniform(0, duration), 3)])
    beats = [(pos, playing, t)]
    for _ in range(steps):
        dt = rng.choice(
            [0, 1, 250, 500, 1000, 1000, 2000, 5000, 10_000, 30_000, rng.randint(1, 20_000)]
        )
        t += dt
        move = rng.random()
        if move < 0.45 and playing:
            pos += dt / 1000 * rng.choice([1, 1, 1, 1.5, 2, 2.5])  # 2.5x: faster than allowed
        elif move < 0.55:
            pos = rng.uniform(0, duration)  # seek, either way
        elif move < 0.65:
            pos += rng.uniform(100, 1000)  # a lie: more than real time allows
        elif move < 0.7:
            pos = duration + rng.uniform(0, 50)  # past the end (clamped)
        elif move < 0.75:
            pos = max(0.0, pos - rng.uniform(0, 30))  # small seek back
        # millisecond positions, whole seconds, or arbitrary floats (never an exact x.xxx5)
        pos = rng.choice([round(pos, 3), float(round(pos)), pos + rng.uniform(1e-6, 1e-3)])
        playing = rng.random() > 0.2
        beats.append((pos, playing, t))
    return beats


# -- over HTTP ----------------------------------------------------------------------------------
def course_with_video_lesson(gw: str, cid: str, user: User) -> tuple[dict, dict]:
    """A draft course with one video lesson (pending its upload), made through the API by
    `user`; returns (course, lesson) as the API answered them."""
    course = requests.post(
        channel_url(gw, cid, "/courses"),
        json={"title": "Video course"},
        headers=user.headers,
        timeout=10,
    )
    assert course.status_code == 201, course.text
    lesson = requests.post(
        channel_url(gw, cid, f"/courses/{course.json()['id']}/lessons"),
        json={"title": "Watch me", "kind": "video"},
        headers=user.headers,
        timeout=10,
    )
    assert lesson.status_code == 201, lesson.text
    return course.json(), lesson.json()
