"""The community projection against the official Firestore emulator through the real client:
duplicates, every kind of reordering and concurrent deliveries converge on the newest version
of each document; removed content leaves and a late create never brings it back; the push path
from the domain-events topic through the subscription filter reaches the function.

Every test uses fresh random ids, so documents other tests leave never interfere.
"""

import json
import random
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest

from shared import realtime
from tests.helpers import eventually

pytestmark = pytest.mark.usefixtures("stack")


def ids(n: int) -> list[str]:
    return [str(uuid.uuid4()) for _ in range(n)]


@pytest.fixture
def db(stack):
    from google.cloud import firestore

    client = firestore.Client(project=stack.project)
    yield client
    client.close()


def doc(db, path: str) -> dict | None:
    snap = db.document(path).get()
    return snap.to_dict() if snap.exists else None


def envelope(event_type: str, channel_id: str, data: dict, at: str | None = None) -> dict:
    return {"id": str(uuid.uuid4()), "type": event_type, "channel_id": channel_id,
            "occurred_at": at or "2026-11-30T02:00:00+00:00", "data": data}  # fmt: skip


def deliver(env: dict) -> str:
    return realtime.on_domain_event(envelope=env, attributes={"channel_id": env["channel_id"]})


class Thread:
    """One post's life as C1's events describe it (payloads per the community contract)."""

    def __init__(self) -> None:
        self.c, self.s, self.p, self.author = ids(4)

    @property
    def path(self) -> str:
        return f"channels/{self.c}/spaces/{self.s}/posts/{self.p}"

    def post(self, kind: str, version: int, title: str = "") -> dict:
        return envelope(kind, self.c, {
            "channel_id": self.c, "space_id": self.s, "post_id": self.p, "version": version,
            "title": title or f"v{version}", "body_html": f"<p>v{version}</p>",
            "author": {"user_id": self.author, "display_name": "Ada"}, "pinned": False,
            "created_at": "2026-11-30T01:00:00+00:00", "updated_at": "2026-11-30T01:00:00+00:00",
        })  # fmt: skip

    def reaction(self, version: int, counts: dict) -> dict:
        return envelope("reaction.created", self.c, {
            "channel_id": self.c, "space_id": self.s, "post_id": self.p,
            "user_id": self.author, "kind": "like", "counts": counts, "version": version,
        })  # fmt: skip

    def comment(self, kind: str, comment_id: str, version: int) -> dict:
        return envelope(kind, self.c, {
            "channel_id": self.c, "space_id": self.s, "post_id": self.p,
            "comment_id": comment_id, "parent_id": None, "version": version,
            "body_html": f"<p>c{version}</p>", "author": {"user_id": self.author},
            "created_at": "2026-11-30T01:00:00+00:00", "updated_at": "2026-11-30T01:00:00+00:00",
        })  # fmt: skip


def test_duplicates_and_every_reordering_converge_on_the_newest_version(db):
    rng = random.Random(12)
    for _ in range(4):
        t = Thread()
        history = [
            t.post("post.created", 1),
            t.reaction(1, {"like": 1}),
            t.post("post.updated", 2),
            t.reaction(2, {"like": 2, "love": 1}),
            t.post("post.removed", 3),
            t.post("post.restored", 4, title="back"),
            t.reaction(3, {"like": 1, "love": 1}),
        ]
        deliveries = history + rng.sample(history, 4)  # each duplicate is a redelivery
        rng.shuffle(deliveries)
        outcomes = [deliver(e) for e in deliveries]
        assert outcomes.count("projected") <= len(history)
        got = doc(db, t.path)
        assert got is not None
        assert got["version"] == 4 and got["title"] == "back" and got["body_html"] == "<p>v4</p>"
        assert got["reactions"] == {"like": 1, "love": 1}
        assert got["author"]["display_name"] == "Ada" and "body" not in got


def test_concurrent_deliveries_converge(db):
    """Pub/Sub pushes to many instances at once: the record's precondition serialises them."""
    t = Thread()
    history = [t.post("post.created", 1)] + [t.post("post.updated", v) for v in range(2, 9)]
    history += [t.reaction(v, {"like": v}) for v in range(1, 6)]
    deliveries = history * 2
    random.Random(3).shuffle(deliveries)
    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(deliver, deliveries))
    got = doc(db, t.path)
    assert got is not None and got["version"] == 8 and got["reactions"] == {"like": 5}


def test_removal_then_a_late_create_leaves_the_post_out(db):
    t = Thread()
    assert deliver(t.post("post.created", 1)) == "projected"
    assert doc(db, t.path) is not None
    assert deliver(t.post("post.removed", 2)) == "projected"
    assert doc(db, t.path) is None  # removed content leaves the projection at once
    assert deliver(t.post("post.created", 1)) == "duplicate"
    assert deliver(t.post("post.updated", 2)) == "duplicate"
    assert doc(db, t.path) is None
    # A removal that arrives before its create: the create never lands either.
    t2 = Thread()
    assert deliver(t2.post("post.removed", 3)) == "projected"
    assert deliver(t2.post("post.created", 1)) == "duplicate"
    assert doc(db, t2.path) is None


def test_comments_follow_their_own_versions(db):
    t = Thread()
    cm = str(uuid.uuid4())
    path = f"{t.path}/comments/{cm}"
    assert deliver(t.comment("comment.updated", cm, 2)) == "projected"
    assert deliver(t.comment("comment.created", cm, 1)) == "duplicate"
    assert doc(db, path)["body_html"] == "<p>c2</p>"
    assert deliver(t.comment("comment.removed", cm, 3)) == "projected"
    assert doc(db, path) is None
    assert deliver(t.comment("comment.restored", cm, 4)) == "projected"
    assert doc(db, path)["version"] == 4


def test_notifications_land_under_their_user_and_read_marks_stick(db):
    c, user, n1, n2 = ids(4)

    def created(n: str) -> dict:
        return envelope("notification.created", c, {
            "channel_id": c, "user_id": user, "notification_id": n, "kind": "reply",
            "title": "A reply", "link": f"/posts/{n}", "actor": None,
            "created_at": "2026-11-30T01:00:00+00:00", "version": 1,
        })  # fmt: skip

    read = envelope("notification.read", c,
                    {"user_id": user, "notification_ids": [n1, n2], "version": 2})  # fmt: skip
    assert deliver(created(n1)) == "projected"
    assert deliver(read) == "projected"  # n2's mark arrives before n2 itself
    assert deliver(read) == "duplicate"
    assert deliver(created(n2)) == "projected"
    for n in (n1, n2):
        got = doc(db, f"users/{user}/notifications/{n}")
        assert got["read"] is True and got["title"] == "A reply" and got["kind"] == "reply"
        record = doc(db, f"projection_versions/users~{user}~notifications~{n}")
        assert record["user_id"] == user  # the privacy erasure finds it by user_id


def test_ban_documents_follow_commit_order(db):
    c, u = ids(2)
    path = f"channels/{c}/bans/{u}"
    banned = envelope(
        "member.banned",
        c,
        {"channel_id": c, "user_id": u, "ends_at": "2030-01-01T00:00:00+00:00"},
        at="2026-11-30T02:00:00+00:00",
    )
    lifted = envelope("member.unbanned", c, {"channel_id": c, "user_id": u, "ends_at": None},
                      at="2026-11-30T02:00:05+00:00")  # fmt: skip
    assert deliver(lifted) == "projected"
    assert deliver(banned) == "duplicate"  # an older ban never outlives its lifting
    assert doc(db, path) is None
    rebanned = {**banned, "occurred_at": "2026-11-30T02:00:09+00:00"}
    assert deliver(rebanned) == "projected"
    assert doc(db, path)["ends_at"].year == 2030  # a Firestore timestamp: rules compare it


def test_malformed_and_foreign_events_are_acked_without_writes(db):
    t = Thread()
    bad = t.post("post.created", 1)
    bad["data"]["post_id"] = "../../../users/x"
    assert deliver(bad) == "malformed"
    assert deliver(envelope("course.published", t.c, {"course_id": t.p})) == "ignored"
    mismatch = t.post("post.created", 1)
    assert realtime.on_domain_event(envelope=mismatch, attributes={"channel_id": t.s}) == (
        "malformed"
    )
    assert doc(db, t.path) is None


def test_an_event_published_to_domain_events_reaches_the_projection(db, stack):
    """The real path: Pub/Sub emulator -> subscription filter -> push -> community_projection."""
    from google.cloud import pubsub_v1

    t = Thread()
    env = t.post("post.created", 1, title="pushed")
    publisher = pubsub_v1.PublisherClient()
    topic = publisher.topic_path(stack.project, "domain-events")
    attrs = {"event_type": env["type"], "event_id": env["id"], "channel_id": t.c}
    publisher.publish(topic, json.dumps(env).encode(), **attrs).result(timeout=10)
    got = eventually(lambda: doc(db, t.path), timeout=20, what="the pushed post projected")
    assert got["title"] == "pushed"


def test_counts_for_a_post_deleted_behind_the_projection_are_kept_not_failed(db):
    """An erasure deletes projected documents directly: a later count must not fail forever
    (Pub/Sub would dead-letter it) nor write a half document."""
    t = Thread()
    assert deliver(t.post("post.created", 1)) == "projected"
    db.document(t.path).delete()
    assert deliver(t.reaction(1, {"like": 3})) == "projected"
    assert doc(db, t.path) is None
    assert deliver(t.post("post.updated", 2)) == "projected"
    assert doc(db, t.path)["reactions"] == {"like": 3}
