"""Pure rules of search: query limits, snippets made safe, which events touch which document."""

import uuid

import pytest

from shared.search.rules import (
    MAX_QUERY_CHARS,
    START,
    STOP,
    mark_snippet,
    normalize_query,
    parse_event,
    query_problem,
)

CID = str(uuid.uuid4())
OID = str(uuid.uuid4())


def test_snippets_are_escaped_before_the_matches_are_marked():
    raw = f"<b onclick=\"x\">{START}R&D{STOP}</b> 'q'"
    assert mark_snippet(raw) == (
        "&lt;b onclick=&quot;x&quot;&gt;<mark>R&amp;D</mark>&lt;/b&gt; &#x27;q&#x27;"
    )
    assert mark_snippet(None) == ""


def test_a_marker_typed_into_the_text_cannot_forge_markup():
    # search_ranked removes the markers from the text; escaping keeps anything else inert
    assert "<" not in mark_snippet("<mark>x</mark>").replace("<mark>", "").replace("</mark>", "")
    assert mark_snippet("<mark>x</mark>") == "&lt;mark&gt;x&lt;/mark&gt;"


@pytest.mark.parametrize(
    ("q", "problem"),
    [
        ("ok", None),
        ("a\x00b", "must not contain NUL characters"),
        ("  \t ", "must not be blank"),
        ("x" * MAX_QUERY_CHARS, None),
        ("x" * (MAX_QUERY_CHARS + 1), f"at most {MAX_QUERY_CHARS} characters"),
        ("x" * 3072, f"at most {MAX_QUERY_CHARS} characters"),
    ],
)
def test_query_problems(q, problem):
    assert query_problem(q) == problem


def test_queries_are_normalized():
    assert normalize_query('  "data   science"\n -rust ') == '"data science" -rust'


@pytest.mark.parametrize(
    ("event_type", "data", "kind", "target"),
    [
        ("channel.created", {"channel_id": CID}, "channel", CID),
        ("channel.updated", {"fields": ["name"]}, "channel", CID),
        ("course.published", {"course_id": OID.upper()}, "course", OID),
        ("course.archived", {"course_id": OID}, "course", OID),
        ("lesson.deleted", {"course_id": CID, "lesson_id": OID}, "lesson", OID),
    ],
)
def test_indexed_events_name_their_document(event_type, data, kind, target):
    env = {"id": "e1", "type": event_type, "channel_id": CID, "data": data}
    assert parse_event(env) == ("e1", CID, kind, target)


@pytest.mark.parametrize("event_type", ["batch.created", "lessons.reordered", "media.released"])
def test_other_events_are_not_indexed(event_type):
    assert parse_event({"id": "e", "type": event_type, "channel_id": CID, "data": {}}) is None


@pytest.mark.parametrize(
    ("env", "why"),
    [
        (None, "the envelope is not an object"),
        ({"type": "course.updated", "channel_id": CID, "data": {}}, "no event id"),
        ({"id": "e", "type": "course.updated", "channel_id": "x", "data": {}}, "no channel id"),
        ({"id": "e", "type": "course.updated", "channel_id": CID, "data": []}, "no data"),
        ({"id": "e", "type": "course.updated", "channel_id": CID, "data": {}}, "no course_id"),
        (
            {"id": "e", "type": "lesson.updated", "channel_id": CID, "data": {"lesson_id": 1}},
            "no lesson_id",
        ),
    ],
)
def test_malformed_envelopes_say_why(env, why):
    assert parse_event(env) == why
