"""The course-viewing rule and the archived guard, as a truth table."""

from __future__ import annotations

import itertools

import pytest

from shared.catalog.rules import CourseStatus, course_viewable, course_writable

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
