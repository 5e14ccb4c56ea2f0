"""The course-viewing rule and the archived guard, as a truth table."""

from __future__ import annotations

import itertools

import pytest

from shared.catalog.rules import CourseStatus, course_viewable, course_writable, publish_blockers

STATUSES = ("draft", "published", "archived")

# (status, staff, enrolled) -> viewable
TRUTH = {
    ("draft", False, False): False,
    ("draft", False, True): False,  # an enrollment left over from before it was unpublished
    ("draft", True, False): True,
    ("draft", True, True): True,
    ("published", False, False): True,
    ("published", False, True): True,
    ("published", True, False): True,
    ("published", True, True): True,
    ("archived", False, False): False,
    ("archived", False, True): True,  # enrolled students keep access
    ("archived", True, False): True,
    ("archived", True, True): True,
}


def test_the_table_covers_every_case():
    assert set(TRUTH) == set(itertools.product(STATUSES, (False, True), (False, True)))


@pytest.mark.parametrize(("status", "staff", "enrolled"), sorted(TRUTH))
def test_course_viewable(status, staff, enrolled):
    assert (
        course_viewable(status, staff=staff, enrolled=enrolled) is TRUTH[(status, staff, enrolled)]
    )


def test_a_missing_course_is_viewable_by_staff_alone():
    assert course_viewable(None, staff=False, enrolled=True) is False
    assert course_viewable(None, staff=True, enrolled=False) is True


def test_only_an_archived_course_is_read_only():
    assert [s for s in CourseStatus if not course_writable(s)] == [CourseStatus.ARCHIVED]
    assert course_writable("draft") and course_writable("published")


def test_a_course_with_ready_videos_and_no_price_can_be_published():
    assert publish_blockers(waiting=[], priced=False, charges_enabled=False) == []
    assert publish_blockers(waiting=[], priced=True, charges_enabled=True) == []


def test_every_blocker_is_listed_with_its_code():
    reasons = publish_blockers(
        waiting=[("l1", "Intro"), ("l2", "Setup")], priced=True, charges_enabled=False
    )
    assert [r["code"] for r in reasons] == ["video_not_ready", "payments_not_enabled"]
    assert reasons[0]["lesson_ids"] == ["l1", "l2"]
    assert reasons[0]["msg"] == "video lessons without a ready video: 'Intro', 'Setup'"
