"""Live classes' pure rules: who sees which link, the session answer, reschedules, the
start-time guard."""

from datetime import UTC, datetime, timedelta

import pytest

from shared.live.rules import (
    PAST_GRACE,
    Refusal,
    audit_details,
    made_for_intent,
    meeting_agenda,
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
    "provider_meeting_id": 81234567890,
    "provider_account_id": "acc-1",
    "recording_lesson_id": None,
    "created_at": NOW,
}


def test_links_are_shown_only_to_who_may_see_them():
    out = session_out(ROW, join=True, staff=False)
    assert out["join_url"] == ROW["join_url"]
    assert out["provider_meeting_id"] is None and out["provider_account_id"] is None
    staff = session_out(ROW, join=True, staff=True)
    assert staff["provider_meeting_id"] == "81234567890"
    assert staff["provider_account_id"] == "acc-1"
    neither = session_out(ROW, join=False, staff=False)
    assert neither["join_url"] is None


def test_no_answer_ever_carries_the_hosts_start_link():
    for join in (True, False):
        for staff in (True, False):
            out = session_out(
                {**ROW, "start_url": "https://zoom.example/s/1"}, join=join, staff=staff
            )
            assert "start_url" not in out
            assert "zoom.example/s/" not in repr(out)


def test_a_cancelled_class_shows_no_link_to_anyone():
    out = session_out({**ROW, "status": "cancelled"}, join=True, staff=True)
    assert out["join_url"] is None
    assert out["status"] == "cancelled"


def test_a_started_class_still_shows_its_join_link():
    assert session_out({**ROW, "status": "started"}, join=True, staff=False)["join_url"]


def test_the_recording_lesson_is_shown_once_there():
    lesson = "0190f0f0-0000-7000-8000-000000000001"
    assert (
        session_out({**ROW, "recording_lesson_id": lesson}, join=False, staff=False)[
            "recording_lesson_id"
        ]
        == lesson
    )


def test_the_meeting_agenda_names_its_intent():
    agenda = meeting_agenda("Cohort A", "intent-1")
    assert made_for_intent({"agenda": agenda}, "intent-1")
    assert not made_for_intent({"agenda": agenda}, "intent-2")
    assert not made_for_intent({"agenda": None}, "intent-1")
    assert not made_for_intent({}, "intent-1")


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
