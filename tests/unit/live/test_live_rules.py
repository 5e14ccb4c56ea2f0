"""Live classes' pure rules: who sees which link, the session answer, reschedules, the
start-time guard."""

from datetime import UTC, datetime, timedelta

import pytest

from shared.live.rules import (
    PAST_GRACE,
    Refusal,
    audit_details,
    reschedule_changes,
    session_out,
    starts_in_the_past,
    viewer_links,
)

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("view_any", "may_host", "enrollment", "course", "expected"),
    [
        (True, True, None, "draft", (True, True)),  # host: both links, any course state
        (True, False, None, "published", (True, False)),  # staff without host rights
        (False, False, "active", "published", (True, False)),
        (False, False, "completed", "published", (False, False)),  # schedule, no join link
        (False, False, "cancelled", "archived", (False, False)),
        (False, False, None, "published", Refusal.FORBIDDEN),
        (False, False, None, "draft", Refusal.NOT_FOUND),  # the course is not visible
        (False, False, None, "archived", Refusal.NOT_FOUND),
    ],
)
def test_who_sees_which_link(view_any, may_host, enrollment, course, expected):
    got = viewer_links(
        view_any=view_any, may_host=may_host, enrollment_status=enrollment, course_status=course
    )
    assert got == expected


def test_a_student_is_never_given_the_hosts_link():
    assert viewer_links(
        view_any=False, may_host=True, enrollment_status="active", course_status="published"
    ) == (True, False)


ROW = {
    "id": "s1",
    "batch_id": "b1",
    "title": "Live",
    "starts_at": NOW,
    "duration_minutes": 60,
    "provider": "zoom",
    "status": "scheduled",
    "join_url": "https://zoom.example/j/1",
    "start_url": "https://zoom.example/s/1",
    "created_at": NOW,
}


def test_links_are_shown_only_to_who_may_see_them():
    out = session_out(ROW, join=True, host=False)
    assert out["join_url"] == ROW["join_url"] and out["start_url"] is None
    both = session_out(ROW, join=True, host=True)
    assert both["start_url"] == ROW["start_url"]
    neither = session_out(ROW, join=False, host=False)
    assert neither["join_url"] is None and neither["start_url"] is None


def test_a_cancelled_class_shows_no_link_to_anyone():
    out = session_out({**ROW, "status": "cancelled"}, join=True, host=True)
    assert out["join_url"] is None and out["start_url"] is None
    assert out["status"] == "cancelled"


def test_the_start_guard_allows_a_grace_for_slow_clocks():
    assert not starts_in_the_past(None, NOW)
    assert not starts_in_the_past(NOW - PAST_GRACE, NOW)
    assert starts_in_the_past(NOW - PAST_GRACE - timedelta(seconds=1), NOW)
    assert not starts_in_the_past(NOW + timedelta(days=1), NOW)


def test_a_reschedule_changes_only_what_was_sent_and_differs():
    later = NOW + timedelta(hours=1)
    requested = {"title": "Live", "starts_at": later, "duration_minutes": None}
    assert reschedule_changes(ROW, requested) == {"starts_at": later}
    assert reschedule_changes(ROW, {"title": None, "starts_at": NOW}) == {}


def test_the_audit_row_keeps_no_link_of_the_event():
    payload = {
        "session_id": "s1",
        "batch_id": "b1",
        "provider": "zoom",
        "provider_meeting_id": "m1",
        "starts_at": NOW.isoformat(),
        "join_url": "https://zoom.example/j/1",
    }
    assert audit_details(payload) == {
        "batch_id": "b1",
        "provider": "zoom",
        "starts_at": NOW.isoformat(),
    }
