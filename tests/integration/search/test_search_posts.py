"""Community posts in search: indexed from the post events, found only by who may see their
space (members' spaces: every member; course spaces: staff and the course's active students),
never hidden, removed or deleted posts (the live status decides, whatever the indexer's lag),
never across channels; and the channel's search language set by its owner, reindexing it."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from shared import search
from shared.platform.errors import Forbidden
from shared.platform.ids import uuid7
from shared.search.schemas import SearchSettingsIn
from tests.factories import enrolled_student, make_course, new_channel, new_user
from tests.helpers import unique

pytestmark = pytest.mark.usefixtures("stack")
W = unique("zp")


def deliver(channel_id: str, event_type: str, post_id: str) -> str:
    envelope = {"id": uuid7(), "type": event_type, "channel_id": channel_id,
                "data": {"channel_id": channel_id, "post_id": post_id}}  # fmt: skip
    return search.on_domain_event(envelope=envelope, attributes={"channel_id": channel_id})


def space(admin, ch, owner, kind, course=None) -> str:
    sid = uuid7()
    admin.run(
        "INSERT INTO spaces (id, channel_id, name, audience_kind, course_id, created_by)"
        " VALUES (:i, :c, :n, :k, :co, :u)",
        i=sid, c=ch, n=f"{kind} space", k=kind, co=course, u=owner,
    )  # fmt: skip
    return sid


def post(admin, ch, sid, author, title, body) -> str:
    pid = uuid7()
    admin.run(
        "INSERT INTO posts (id, channel_id, space_id, author_id, title, body, body_html)"
        " VALUES (:i, :c, :s, :a, :t, :b, :b)",
        i=pid, c=ch, s=sid, a=author, t=title, b=body,
    )  # fmt: skip
    assert deliver(ch, "post.created", pid) == "indexed"
    return pid


@pytest.fixture(scope="module")
def world(admin_db):
    admin = admin_db()
    owner = new_user("Owner")
    ch = new_channel(owner)
    course = make_course(admin, ch, owner)["id"]
    student = enrolled_student(admin, ch, course)
    member = enrolled_student(admin, ch, make_course(admin, ch, owner)["id"])  # not in `course`
    outsider = new_user("Outsider")
    other_owner = new_user("Other")
    other = new_channel(other_owner)
    everyone = space(admin, ch, owner, "members")
    students = space(admin, ch, owner, "course", course)
    return {
        "admin": admin, "ch": ch, "owner": owner, "student": student, "member": member,
        "outsider": outsider, "other": other, "other_owner": other_owner,
        "open": post(admin, ch, everyone, member, f"Welcome thread {W}", f"say hello {W}"),
        "course": post(admin, ch, students, owner, "", f"Homework answers {W} inside"),
        "elsewhere": post(
            admin, other, space(admin, other, other_owner, "members"), other_owner,
            f"Other channel {W}", "x",
        ),
    }  # fmt: skip


def found(world, user, channel=None, q=W) -> set[str]:
    page = search.search(q=q, user_id=user, channel_id=channel or world["ch"], limit=100)
    return {h["id"] for h in page["items"] if h["type"] == "post"}


def test_posts_of_the_spaces_each_caller_may_see(world):
    assert found(world, world["owner"]) == {world["open"], world["course"]}
    assert found(world, world["student"]) == {world["open"], world["course"]}
    assert found(world, world["member"]) == {world["open"]}  # not a student of the course
    assert found(world, world["outsider"]) == set()  # not a member
    assert found(world, None) == set()  # the public
    assert found(world, world["other_owner"], world["other"]) == {world["elsewhere"]}
    # never across channels, not even one's own posts
    page = search.search(q=W, user_id=world["member"], limit=100)
    assert not [h for h in page["items"] if h["type"] == "post"]


def test_a_post_without_title_is_titled_by_its_body_and_typed_post(world):
    page = search.search(q=f"homework {W}", user_id=world["owner"], channel_id=world["ch"])
    hit = next(h for h in page["items"] if h["id"] == world["course"])
    assert hit["type"] == "post" and hit["title"].startswith("Homework answers")
    assert (
        search.search(q="post", user_id=None, channel_id=world["ch"], doc_type="post")["items"]
        == []
    )


def test_hidden_and_removed_posts_leave_at_once_and_come_back_when_restored(world):
    admin, ch, pid = world["admin"], world["ch"], world["open"]
    for status in ("hidden", "removed", "deleted"):
        admin.run("UPDATE posts SET status = :s WHERE id = :i", s=status, i=pid)
        # before the indexer has the event: the live status already decides
        assert pid not in found(world, world["owner"])
        assert deliver(ch, "post.removed", pid) == "indexed"
        assert admin.run("SELECT count(*) FROM search_documents WHERE doc_id = :i", i=pid) == [[0]]
        admin.run("UPDATE posts SET status = 'visible' WHERE id = :i", i=pid)
        assert deliver(ch, "post.restored", pid) == "indexed"
        assert pid in found(world, world["member"])
    admin.run("UPDATE posts SET title = :t WHERE id = :i", t=f"Renamed thread {W}", i=pid)
    assert deliver(ch, "post.updated", pid) == "indexed"
    assert pid in found(world, world["member"], q=f"renamed {W}")


def test_the_channel_language_is_set_by_its_owner_and_reindexes(world):
    ch, owner, admin = world["ch"], world["owner"], world["admin"]
    sid = admin.run("SELECT space_id FROM posts WHERE id = :i", i=world["open"])[0][0]
    pid = post(admin, ch, sid, owner, f"Studio notes {W}", "We were painting landscapes")
    assert search.get_settings(channel_id=ch, user_id=owner) == {"language": "simple"}
    # 'simple' does not stem: "paints landscape" finds nothing of "painting landscapes"
    assert pid not in found(world, owner, q="paints landscape")
    with pytest.raises(Forbidden):
        search.put_settings(
            channel_id=ch, user_id=world["student"], body=SearchSettingsIn(language="english")
        )
    with pytest.raises(ValidationError):
        SearchSettingsIn.model_validate({"language": "klingon"})
    with pytest.raises(ValidationError):
        SearchSettingsIn.model_validate({"language": "english'); DROP TABLE x; --"})
    english = SearchSettingsIn(language="english")
    assert search.put_settings(channel_id=ch, user_id=owner, body=english) == {
        "language": "english"
    }
    langs = admin.run(
        "SELECT DISTINCT language::text FROM search_documents WHERE channel_id = :c", c=ch
    )
    assert langs == [["english"]]
    assert pid in found(world, owner, q="paints landscape")  # stemmed now
    assert search.get_settings(channel_id=ch, user_id=owner) == {"language": "english"}
