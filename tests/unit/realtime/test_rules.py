"""The projection's pure decisions: events to document operations, the versions record that
makes any delivery order converge, and the token's claims within Firebase's size limit."""

import itertools
import json
import uuid
from datetime import UTC, datetime

import pytest

from shared.realtime import rules
from shared.realtime.rules import Delete, Facet, Malformed, Record, Remove, Update, Upsert, Write

C, S, P, M, U = (str(uuid.uuid4()) for _ in range(5))
AUTHOR = {"user_id": U, "display_name": "Ada"}


def post_event(kind: str, version: int, **extra) -> dict:
    data = {
        "channel_id": C,
        "space_id": S,
        "post_id": P,
        "version": version,
        "title": "Hi",
        "body_html": "<p>hi</p>",
        "author": AUTHOR,
        "pinned": False,
        "created_at": "2026-11-30T01:00:00+00:00",
        "updated_at": "2026-11-30T01:00:00+00:00",
    }
    return {"id": str(uuid.uuid4()), "type": kind, "channel_id": C,
            "occurred_at": "2026-11-30T01:00:00+00:00", "data": {**data, **extra}}  # fmt: skip


def test_post_events_become_upserts_and_deletes_at_the_api_paths():
    [op] = rules.ops_for_event(post_event("post.created", 1))
    assert op == Upsert(f"channels/{C}/spaces/{S}/posts/{P}", 1, op.data)
    assert op.data["title"] == "Hi" and op.data["version"] == 1 and op.data["author"] == AUTHOR
    assert "body" not in op.data  # only the sanitised HTML is projected
    [gone] = rules.ops_for_event(post_event("post.removed", 2, reason="moderator"))
    assert gone == Delete(f"channels/{C}/spaces/{S}/posts/{P}", 2)


def test_an_edit_or_pin_of_content_not_visible_keeps_it_out():
    for status in ("hidden", "removed", "deleted"):
        [op] = rules.ops_for_event(post_event("post.updated", 5, status=status, pinned=True))
        assert op == Delete(f"channels/{C}/spaces/{S}/posts/{P}", 5)
    [op] = rules.ops_for_event(post_event("post.restored", 6, status="visible"))
    assert isinstance(op, Upsert)


def test_comment_reaction_notification_and_ban_paths():
    comment = {"type": "comment.created", "channel_id": C, "data": {
        "space_id": S, "post_id": P, "comment_id": M, "parent_id": None, "version": 1,
        "body_html": "<p>x</p>", "author": AUTHOR}}  # fmt: skip
    [op] = rules.ops_for_event(comment)
    assert op.path == f"channels/{C}/spaces/{S}/posts/{P}/comments/{M}"
    reaction = {"type": "reaction.created", "channel_id": C, "data": {
        "space_id": S, "post_id": P, "user_id": U, "kind": "like", "counts": {"like": 2, "x": 0},
        "version": 7}}  # fmt: skip
    assert rules.ops_for_event(reaction) == [
        Facet(f"channels/{C}/spaces/{S}/posts/{P}", "reactions", 7, {"reactions": {"like": 2}})
    ]
    note = {"type": "notification.created", "channel_id": C, "data": {
        "user_id": U, "notification_id": M, "kind": "reply", "title": "t", "link": "/x",
        "created_at": "2026-11-30T01:00:00+00:00", "version": 1}}  # fmt: skip
    [op] = rules.ops_for_event(note)
    assert op.path == f"users/{U}/notifications/{M}" and op.data["read"] is False
    read = {
        "type": "notification.read",
        "channel_id": C,
        "occurred_at": "2026-11-30T02:00:00Z",
        "data": {"user_id": U, "notification_ids": [M, P], "version": 2},
    }
    ops = rules.ops_for_event(read)
    assert [o.path for o in ops] == [f"users/{U}/notifications/{M}", f"users/{U}/notifications/{P}"]
    assert all(isinstance(o, Facet) and o.fields["read"] is True for o in ops)
    ban = {
        "type": "member.banned",
        "channel_id": C,
        "occurred_at": "2026-11-30T02:00:00+00:00",
        "data": {"user_id": U, "ends_at": "2026-12-07T02:00:00+00:00"},
    }
    [op] = rules.ops_for_event(ban)
    assert op.path == f"channels/{C}/bans/{U}"
    assert op.data["ends_at"] == datetime(2026, 12, 7, 2, tzinfo=UTC)
    unban = {**ban, "type": "member.unbanned", "occurred_at": "2026-11-30T02:00:01+00:00"}
    [lift] = rules.ops_for_event(unban)
    assert isinstance(lift, Delete) and lift.version > op.version  # ordered by commit time


def test_other_events_are_ignored_and_broken_ones_malformed():
    assert rules.ops_for_event({"type": "course.published", "data": {}}) is None
    for bad in (
        "not a dict",
        {"type": "post.created", "channel_id": C, "data": "x"},
        post_event("post.created", 0),
        post_event("post.created", True),
        post_event("post.created", "3"),
        post_event("post.created", 1, space_id="../../users"),
        post_event("post.created", 1, post_id="a/b"),
        {"type": "reaction.created", "channel_id": C,
         "data": {"space_id": S, "post_id": P, "version": 1, "counts": {"like": -1}}},
        {"type": "notification.read", "channel_id": C,
         "data": {"user_id": U, "notification_ids": [], "version": 1}},
        {"type": "member.banned", "channel_id": C, "occurred_at": "yesterday",
         "data": {"user_id": U}},
    ):  # fmt: skip
        with pytest.raises(Malformed):
            rules.ops_for_event(bad)


def apply(doc: dict | None, record: Record, op: rules.Op) -> tuple[dict | None, Record]:
    """Play a decision on an in-memory document, as the adapter does in Firestore."""
    d = rules.decide(record, op)
    if d is None:
        return doc, record
    if isinstance(d.action, Write):
        doc = dict(d.action.data)
    elif isinstance(d.action, Update):
        assert doc is not None, "an update of a missing document would fail in Firestore"
        doc = {**doc, **d.action.fields}
    elif isinstance(d.action, Remove):
        doc = None
    return doc, d.record


PATH = f"channels/{C}/spaces/{S}/posts/{P}"
HISTORY = [
    Upsert(PATH, 1, {"title": "v1", "version": 1}),
    Facet(PATH, "reactions", 1, {"reactions": {"like": 1}}),
    Upsert(PATH, 2, {"title": "v2", "version": 2}),
    Facet(PATH, "reactions", 2, {"reactions": {"like": 2, "love": 1}}),
    Delete(PATH, 3),
    Upsert(PATH, 4, {"title": "v4 restored", "version": 4}),
]


def play(ops) -> tuple[dict | None, Record]:
    doc, rec = None, Record()
    for op in ops:
        doc, rec = apply(doc, rec, op)
    return doc, rec


@pytest.mark.parametrize("cut", range(1, len(HISTORY) + 1))
def test_every_order_with_duplicates_converges_to_the_in_order_result(cut):
    history = HISTORY[:cut]
    expected = play(history)[0]
    for order in itertools.permutations(history):
        assert play([*order, *order[:2]])[0] == expected, order


def test_a_late_create_never_brings_back_a_removed_post():
    doc, rec = play([Delete(PATH, 2), Upsert(PATH, 1, {"title": "v1", "version": 1})])
    assert doc is None and rec.deleted and rec.version == 2
    assert rules.decide(rec, Upsert(PATH, 2, {"title": "dup"})) is None


def test_counts_that_arrive_first_are_carried_by_the_document():
    doc, _ = play([Facet(PATH, "reactions", 5, {"reactions": {"like": 9}}),
                   Upsert(PATH, 1, {"title": "v1", "version": 1})])  # fmt: skip
    assert doc == {"title": "v1", "version": 1, "reactions": {"like": 9}}


def test_a_read_mark_before_its_notification_still_lands():
    path = f"users/{U}/notifications/{M}"
    doc, _ = play([Facet(path, "read", 2, {"read": True, "read_at": "t"}),
                   Upsert(path, 1, {"read": False, "read_at": None, "version": 1})])  # fmt: skip
    assert doc is not None and doc["read"] is True


def test_record_round_trips_through_its_document():
    doc, rec = play(HISTORY)
    assert doc == {"title": "v4 restored", "version": 4, "reactions": {"like": 2, "love": 1}}
    assert Record.from_doc(json.loads(json.dumps(rec.to_doc()))) == rec
    assert Record.from_doc(None) == Record()


def test_claims_carry_roles_and_student_spaces_within_the_limit():
    staff, student = str(uuid.uuid4()), str(uuid.uuid4())
    s1, s2 = str(uuid.uuid4()), str(uuid.uuid4())
    claims, grant = rules.claims_for(
        roles={staff: "moderator", student: "student"}, spaces={student: [s2, s1], staff: [s1]}
    )
    assert grant is None
    assert claims == {"ch": {staff: "m", student: "s"}, "sp": sorted([s1, s2])}


def test_claims_that_would_not_fit_go_to_the_grants_document():
    roles = {str(uuid.uuid4()): "student" for _ in range(8)}
    spaces = {c: [str(uuid.uuid4()) for _ in range(3)] for c in roles}
    claims, grant = rules.claims_for(roles=roles, spaces=spaces)
    assert claims == {"g": 1}
    assert grant is not None and set(grant["ch"]) == set(roles)
    assert set(grant["sp"]) == {s for ids in spaces.values() for s in ids}
    assert rules.claims_size({"ch": grant["ch"], "sp": list(grant["sp"])}) > rules.CLAIMS_BUDGET
    assert rules.CLAIMS_BUDGET < 1000


def test_records_about_a_person_name_them():
    assert rules.person_of(f"users/{U}/notifications/{M}") == U
    assert rules.person_of(f"channels/{C}/bans/{U}") == U
    assert rules.person_of(f"channels/{C}/spaces/{S}/posts/{P}") is None
    assert rules.person_of(f"channels/{C}/spaces/{S}/posts/{P}/comments/{M}") is None
