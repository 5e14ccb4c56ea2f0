"""Search against real Postgres: the indexer consumer fed domain-event envelopes, then the
search use case as members, staff, the public and across channels.

Every document carries a word unique to this module's run (`W`), so documents other tests
leave in the shared database never answer these queries.
"""

import uuid

import pytest

from shared import search
from shared.platform.errors import NotFound, Unprocessable
from shared.platform.ids import uuid7
from tests.factories import enrolled_student, new_channel, new_user
from tests.helpers import unique

pytestmark = pytest.mark.usefixtures("stack")
W = unique("zq")  # e.g. zq1a2b3c4d5e


def deliver(channel_id: str, event_type: str, data: dict, event_id: str | None = None) -> str:
    envelope = {"id": event_id or uuid7(), "type": event_type, "channel_id": channel_id,
                "data": data}  # fmt: skip
    return search.on_domain_event(envelope=envelope, attributes={"channel_id": channel_id})


def course(admin, cid: str, owner: str, title: str, *, status: str = "published",
           description: str = "", lessons: tuple[tuple[str, str], ...] = ()) -> dict:  # fmt: skip
    """A course written as the superuser (no events), then indexed by its events."""
    course_id = uuid7()
    admin.run(
        "INSERT INTO courses (id, channel_id, title, description, status, created_by)"
        " VALUES (:i, :c, :t, :d, :s, :u)",
        i=course_id, c=cid, t=title, d=description, s=status, u=owner,
    )  # fmt: skip
    lesson_ids = []
    for pos, (ltitle, body) in enumerate(lessons, start=1):
        lid = uuid7()
        admin.run(
            "INSERT INTO lessons (id, channel_id, course_id, position, title, kind, body, status)"
            " VALUES (:i, :c, :co, :p, :t, 'text', :b, 'ready')",
            i=lid, c=cid, co=course_id, p=pos, t=ltitle, b=body,
        )  # fmt: skip
        lesson_ids.append(lid)
    assert deliver(cid, "course.created", {"course_id": course_id, "title": title}) == "indexed"
    return {"id": course_id, "lessons": lesson_ids}


@pytest.fixture(scope="module")
def world(admin_db):
    admin = admin_db()
    owner_a, owner_b = new_user("Owner A"), new_user("Owner B")
    a, b = new_channel(owner_a, name=f"Academy {W}"), new_channel(owner_b, name="Other place")
    for cid in (a, b):
        assert deliver(cid, "channel.created", {"channel_id": cid}) == "indexed"
    published = course(
        admin, a, owner_a, f"Python for data science {W}",
        description=f"Learn pandas & numpy, \"R&D\" <script>alert(1)</script> {W}",
        lessons=((f"Dataframes {W}", f"secret paid body text {W} flamingo"),),
    )  # fmt: skip
    draft = course(admin, a, owner_a, f"Unreleased rust course {W}", status="draft",
                   lessons=((f"Borrow checker {W}", ""),))  # fmt: skip
    archived = course(admin, a, owner_a, f"Old haskell course {W}", status="archived")
    other = course(admin, b, owner_b, f"Python web development {W}")
    student = enrolled_student(admin, a, archived["id"])
    outsider = new_user("Outsider")
    return {
        "a": a, "b": b, "owner_a": owner_a, "student": student, "outsider": outsider,
        "published": published, "draft": draft, "archived": archived, "other": other,
        "admin": admin,
    }  # fmt: skip


def ids(page) -> set[str]:
    return {h["id"] for h in page["items"]}


def test_staff_see_drafts_and_their_lessons_members_and_public_do_not(world):
    a, draft = world["a"], world["draft"]
    staff = ids(search.search(q=W, user_id=world["owner_a"], channel_id=a, limit=100))
    assert {draft["id"], *draft["lessons"]} <= staff
    for viewer in (world["student"], world["outsider"], None):
        seen = ids(search.search(q=W, user_id=viewer, channel_id=a, limit=100))
        assert world["published"]["id"] in seen
        assert not {draft["id"], *draft["lessons"]} & seen


def test_archived_courses_only_for_their_enrolled_students(world):
    a, archived = world["a"], world["archived"]["id"]
    assert archived in ids(search.search(q=W, user_id=world["student"], channel_id=a, limit=100))
    assert archived not in ids(search.search(q=W, user_id=world["outsider"], channel_id=a))
    assert archived not in ids(search.search(q=W, user_id=world["student"], limit=100))


def test_channel_scope_never_returns_another_channel(world):
    got = search.search(q=W, user_id=world["owner_a"], channel_id=world["a"], limit=100)
    assert {h["channel_id"] for h in got["items"]} == {world["a"]}
    assert world["other"]["id"] not in ids(got)


def test_cross_channel_search_sees_published_content_of_every_channel(world):
    got = search.search(q=f"python {W}", user_id=world["owner_a"], limit=100)
    assert {world["published"]["id"], world["other"]["id"]} <= ids(got)
    assert world["draft"]["id"] not in ids(search.search(q=W, user_id=world["owner_a"], limit=100))


def test_unknown_channel_is_404():
    with pytest.raises(NotFound):
        search.search(q="x", user_id=None, channel_id=str(uuid.uuid4()))


def test_title_matches_rank_above_body_matches(world):
    # "dataframes" is the lesson's title; the course mentions pandas in its summary only
    admin, a = world["admin"], world["a"]
    c = course(admin, a, world["owner_a"], f"Statistics {W}", description=f"about dataframes {W}")
    got = search.search(q=f"dataframes {W}", user_id=None, channel_id=a)
    order = [h["id"] for h in got["items"]]
    assert order.index(world["published"]["lessons"][0]) < order.index(c["id"])


@pytest.mark.parametrize("q", ["pyhton fro data sceince", "pythn", "datta sciense"])
def test_typos_in_titles_are_forgiven(world, q):
    got = search.search(q=q, user_id=None, channel_id=world["a"])
    assert world["published"]["id"] in ids(got)
    assert world["draft"]["id"] not in ids(got)  # still only what the caller may see


def test_snippets_are_escaped_then_marked(world):
    got = search.search(q="pandas", user_id=None, channel_id=world["a"], doc_type="course")
    (hit,) = [h for h in got["items"] if h["id"] == world["published"]["id"]]
    assert "<mark>pandas</mark>" in hit["snippet"]
    assert "&amp; numpy" in hit["snippet"] and "&quot;R&amp;D&quot;" in hit["snippet"]
    assert "<script" not in hit["snippet"]


def test_lesson_snippets_never_quote_the_paid_body(world):
    got = search.search(q=f"flamingo {W}", user_id=None, channel_id=world["a"])
    (hit,) = got["items"]
    assert hit["id"] == world["published"]["lessons"][0]
    assert "flamingo" not in hit["snippet"] and "secret" not in hit["snippet"]


@pytest.mark.parametrize(
    "q",
    ['"unterminated', '""', "-", "- - -", "or", "a or or b", "!!!", "&|:*()<->", "'; DROP",
     "\\", "%_", "Ω≈ç√∫", "x" * 256, f'"{W}" -rust', f"{W} or nothing"],
)  # fmt: skip
def test_hostile_queries_answer_results_not_errors(world, q):
    got = search.search(q=q, user_id=world["owner_a"], channel_id=world["a"], limit=5)
    assert isinstance(got["items"], list)
    got = search.search(q=q, user_id=None, limit=5)
    assert isinstance(got["items"], list)


def test_web_search_syntax_excludes_and_phrases(world):
    a = world["a"]
    got = ids(search.search(q=f"{W} -rust", user_id=world["owner_a"], channel_id=a, limit=100))
    assert world["draft"]["id"] not in got and world["published"]["id"] in got
    got = ids(search.search(q=f'"data science {W}"', user_id=None, channel_id=a, limit=100))
    # the course, and its lesson (whose summary is the course title); not the other courses
    assert got == {world["published"]["id"], *world["published"]["lessons"]}


@pytest.mark.parametrize("q", ["a\x00b", "x" * 3072, "   "])
def test_unsearchable_queries_are_422(q):
    with pytest.raises(Unprocessable):
        search.search(q=q, user_id=None)


def test_pages_follow_the_cursor_without_repeats(world):
    seen, cursor = [], None
    while True:
        got = search.search(q=W, user_id=world["owner_a"], channel_id=world["a"], limit=2,
                            cursor=cursor)  # fmt: skip
        assert len(got["items"]) <= 2
        seen += [h["id"] for h in got["items"]]
        cursor = got["next_cursor"]
        if cursor is None:
            break
    everything = search.search(q=W, user_id=world["owner_a"], channel_id=world["a"], limit=100)
    assert seen == [h["id"] for h in everything["items"]] and len(seen) > 4
    with pytest.raises(Unprocessable):
        search.search(q=W, user_id=None, cursor="bm90LWpzb24")


def test_consumer_is_idempotent_and_follows_changes_and_removals(world):
    admin, a = world["admin"], world["a"]
    c = course(admin, a, world["owner_a"], f"Gardening {W}", lessons=((f"Roses {W}", ""),))
    lesson = c["lessons"][0]
    admin.run("UPDATE lessons SET title = :t WHERE id = :i", t=f"Tulips {W}", i=lesson)
    event = uuid7()
    assert deliver(a, "lesson.updated", {"course_id": c["id"], "lesson_id": lesson}, event) == (
        "indexed"
    )
    assert deliver(a, "lesson.updated", {"course_id": c["id"], "lesson_id": lesson}, event) == (
        "duplicate"
    )
    assert lesson in ids(search.search(q=f"tulips {W}", user_id=None, channel_id=a))
    assert lesson not in ids(search.search(q="roses", user_id=None, channel_id=a))
    admin.run("DELETE FROM lessons WHERE id = :i", i=lesson)
    deliver(a, "lesson.deleted", {"course_id": c["id"], "lesson_id": lesson})
    assert lesson not in ids(search.search(q=f"tulips {W}", user_id=None, channel_id=a))
    count = admin.run("SELECT count(*) FROM search_documents WHERE doc_id = :i", i=lesson)
    assert count == [[0]]


def test_events_search_does_not_index_or_cannot_parse_are_acked(world):
    assert deliver(world["a"], "batch.created", {"course_id": world["published"]["id"]}) == (
        "ignored"
    )
    assert deliver(world["a"], "course.updated", {"course_id": "nope"}) == "malformed"
    assert search.on_domain_event(envelope=None, attributes={}) == "malformed"


def test_a_channel_language_stems_its_documents_and_queries(world):
    admin, owner = world["admin"], new_user("Polyglot")
    cid = new_channel(owner, name=f"Ateliers {W}")
    admin.run("INSERT INTO search_settings (channel_id, language) VALUES (:c, 'english')", c=cid)
    c = course(admin, cid, owner, f"Painting landscapes {W}")
    doc = admin.run("SELECT language::text FROM search_documents WHERE doc_id = :i", i=c["id"])
    assert doc == [["english"]]
    # english stems: "paintings" and "landscape" match "Painting landscapes"
    assert c["id"] in ids(search.search(q="paintings landscape", user_id=None, channel_id=cid))
    assert c["id"] in ids(search.search(q=f"paintings {W}", user_id=None, limit=100))
