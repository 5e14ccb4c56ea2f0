"""Enrollment transitions (shared.learning.rules): who may enroll, and how it is written."""

from __future__ import annotations

import pytest

from shared.learning.rules import (
    EnrollmentSource,
    EnrollStep,
    Refusal,
    enroll_step,
    enrollment_refusal,
)

FREE, PAID, STAFF = EnrollmentSource.FREE, EnrollmentSource.PAID, EnrollmentSource.STAFF


@pytest.mark.parametrize(
    ("status", "priced", "source", "want"),
    [
        (None, False, FREE, Refusal.NO_COURSE),
        ("draft", False, STAFF, Refusal.NO_COURSE),  # invisible, even to a staff enrollment
        ("archived", False, FREE, Refusal.CLOSED),
        ("archived", True, PAID, Refusal.CLOSED),  # a checkout completing after archiving
        ("published", True, FREE, Refusal.PAYMENT_REQUIRED),
        ("published", True, PAID, None),
        ("published", True, STAFF, None),  # staff may add a student to a priced course
        ("published", False, FREE, None),
    ],
)
def test_who_may_enroll(status, priced, source, want):
    assert enrollment_refusal(status, priced=priced, source=source) is want


def test_an_enrollment_is_inserted_once_then_reactivated_never_duplicated():
    assert enroll_step(None) is EnrollStep.INSERT
    assert enroll_step("ended") is EnrollStep.REACTIVATE
    assert enroll_step("active") is Refusal.ALREADY_ENROLLED


def test_sources_are_the_strings_stored():
    assert [s.value for s in EnrollmentSource] == ["free", "paid", "staff"]
    assert EnrollmentSource("paid") is PAID
    with pytest.raises(ValueError):
        EnrollmentSource("gift")
