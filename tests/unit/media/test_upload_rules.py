"""The pure transitions of a finalized upload, what an accepted upload attaches and releases,
the outcomes the media consumers answer, the storage quota, and the generated route docs."""

from decimal import Decimal

import pytest

from shared.media.rules import (
    STORAGE_QUOTA_BYTES,
    Attach,
    Outcome,
    Result,
    Step,
    Verdict,
    attachment,
    before_inspection,
    decide,
    fits_quota,
    mismatch,
    replaced_thumbnail,
    replaced_video_objects,
    storage_quota_bytes,
    upload_payload,
    wants_thumbnail,
)
from shared.media.schemas import LIMITS, UploadIn, describe_limits

OK = Verdict(True, duration=Decimal("12.5"))
BAD = Verdict(False, "not a playable MP4: truncated")


# -- outcomes ---------------------------------------------------------------------------------
def test_results_read_as_the_outcome_text_with_its_fields():
    assert Result(Outcome.READY) == "ready"
    assert Result(Outcome.REJECTED, reason="too big") == "rejected: too big"
    assert Result(Outcome.OTHER_EVENT, kind="OBJECT_DELETE") == "ignored: OBJECT_DELETE event"
    cleaned = Result(Outcome.CLEANED, deleted=2, referenced=1, refused=0)
    assert cleaned == "deleted 2, still referenced 1, refused 0"
    assert cleaned.outcome is Outcome.CLEANED and not cleaned.ignored
    assert Result(Outcome.DUPLICATE).ignored
    assert str(Result(Outcome.THUMBNAIL_READY)) == "thumbnail ready"


def test_every_ignored_outcome_says_so_and_no_other_does():
    for outcome in Outcome:
        filled = Result(outcome, reason="r", kind="k", why="w", deleted=0, referenced=0, refused=0)
        done = {"READY", "REJECTED", "CLEANED", "THUMBNAIL_READY"}
        assert filled.ignored is (outcome.name not in done)


# -- checking the object ----------------------------------------------------------------------
def test_a_size_mismatch_is_named_before_a_type_mismatch():
    why = mismatch(declared_size=10, declared_type="video/mp4", size=11, stored_type="text/plain")
    assert why == "size 11 bytes does not match the declared 10 bytes"


@pytest.mark.parametrize(
    ("stored", "why"),
    [
        ("video/mp4", None),
        ("Video/MP4; codecs=avc1", None),
        ("text/plain", "content type text/plain does not match the declared video/mp4"),
        (None, "content type unknown does not match the declared video/mp4"),
        ("", "content type unknown does not match the declared video/mp4"),
    ],
)
def test_the_stored_type_is_compared_without_parameters_or_case(stored, why):
    assert mismatch(declared_size=5, declared_type="video/mp4", size=5, stored_type=stored) == why


# -- the transitions of a finalized upload ----------------------------------------------------
@pytest.mark.parametrize(
    ("status", "early"),
    [
        ("rejected", Outcome.ALREADY_REJECTED),
        ("ready", Outcome.ALREADY_READY),
        ("pending", None),
    ],
)
def test_only_a_pending_upload_is_inspected(status, early):
    assert before_inspection(status) is early


@pytest.mark.parametrize(
    ("status", "verdict", "step", "outcome", "discard"),
    [
        ("pending", OK, Step.ACCEPT, Outcome.READY, False),
        ("pending", BAD, Step.REJECT, Outcome.REJECTED, True),
        # withdrawn while it was inspected (its lesson or resource was deleted): never kept
        ("rejected", OK, Step.NOTHING, Outcome.WITHDRAWN, True),
        ("rejected", BAD, Step.NOTHING, Outcome.WITHDRAWN, True),
        # a concurrent delivery accepted it first: this one changes nothing, deletes nothing
        ("ready", OK, Step.NOTHING, Outcome.NO_LONGER_PENDING, False),
        ("ready", BAD, Step.NOTHING, Outcome.NO_LONGER_PENDING, False),
        (None, OK, Step.NOTHING, Outcome.NO_LONGER_PENDING, False),
    ],
)
def test_the_locked_status_and_the_verdict_decide_the_transition(
    status, verdict, step, outcome, discard
):
    decision = decide(status, verdict)
    assert (decision.step, decision.outcome, decision.discard) == (step, outcome, discard)


def test_only_a_ready_lesson_video_of_a_lesson_gets_a_thumbnail():
    assert wants_thumbnail("lesson_video", "l1")
    assert not wants_thumbnail("lesson_video", None)
    assert not wants_thumbnail("thumbnail", "l1")
    assert not wants_thumbnail("resource", "l1")


# -- what an accepted upload attaches and releases ---------------------------------------------
@pytest.mark.parametrize(
    ("purpose", "lesson_id", "course_id", "target"),
    [
        ("lesson_video", "l", "c", Attach.LESSON_VIDEO),
        ("lesson_video", None, "c", Attach.ORPHANED_VIDEO),
        ("resource", None, "c", Attach.RESOURCE),
        ("resource", "l", "c", Attach.RESOURCE),
        ("thumbnail", "l", "c", Attach.LESSON_THUMBNAIL),
        ("thumbnail", None, "c", Attach.COURSE_COVER),
        ("thumbnail", None, None, Attach.NOTHING),
    ],
)
def test_an_accepted_upload_goes_where_its_purpose_says(purpose, lesson_id, course_id, target):
    assert attachment(purpose, lesson_id=lesson_id, course_id=course_id) is target


GEN = "channels/c/thumbnails/l/"


def test_a_replaced_video_releases_itself_and_the_frame_generated_from_it():
    assert replaced_video_objects(
        before_video="old.mp4", before_thumbnail=GEN + "u.jpg", new_video="new.mp4", generated=GEN
    ) == ["old.mp4", GEN + "u.jpg"]


def test_a_creators_thumbnail_stays_when_the_video_is_replaced():
    assert replaced_video_objects(
        before_video="old.mp4", before_thumbnail="mine.png", new_video="new.mp4", generated=GEN
    ) == ["old.mp4"]


@pytest.mark.parametrize("before", [None, "new.mp4"])
def test_a_first_video_or_the_same_one_again_releases_nothing(before):
    assert (
        replaced_video_objects(
            before_video=before, before_thumbnail=GEN + "u.jpg", new_video="new.mp4", generated=GEN
        )
        == []
    )


def test_a_replaced_thumbnail_is_released_unless_it_is_the_same_or_none():
    assert replaced_thumbnail("old.png", "new.png") == ["old.png"]
    assert replaced_thumbnail("new.png", "new.png") == []
    assert replaced_thumbnail(None, "new.png") == []


def test_upload_events_carry_string_ids():
    row = {"id": 1, "purpose": "resource", "course_id": 2, "lesson_id": None}
    assert upload_payload(row) == {
        "upload_id": "1",
        "purpose": "resource",
        "course_id": "2",
        "lesson_id": None,
    }


# -- storage quota ------------------------------------------------------------------------------
def test_the_quota_may_be_reached_but_not_passed():
    assert fits_quota(used_bytes=6, requested_bytes=4, quota_bytes=10)
    assert not fits_quota(used_bytes=6, requested_bytes=5, quota_bytes=10)
    assert not fits_quota(used_bytes=11, requested_bytes=1, quota_bytes=10)


def test_each_plan_has_a_quota_that_holds_its_largest_upload_and_grows_with_the_plan():
    assert set(STORAGE_QUOTA_BYTES) == {"free", "pro", "business"}  # billing's plan keys
    largest = max(limit.max_bytes for limit in LIMITS.values())
    free, pro, business = (storage_quota_bytes(k) for k in ("free", "pro", "business"))
    assert largest <= free < pro < business
    assert storage_quota_bytes("no such plan") == free  # never a paid quota by accident


# -- the route's docs come from the limits table ---------------------------------------------------
def test_the_described_limits_are_the_enforced_ones():
    text = describe_limits()
    for purpose, limit in LIMITS.items():
        (line,) = [ln for ln in text.splitlines() if ln.startswith(f"- `{purpose}`")]
        assert all(t in line for t in limit.types)
    assert "up to 5 GiB" in text and "up to 200 MiB" in text and "up to 5 MiB" in text
    too_big = UploadIn(
        purpose="thumbnail",
        course_id="00000000-0000-0000-0000-000000000001",
        filename="a.png",
        content_type="image/png",
        size_bytes=LIMITS["thumbnail"].max_bytes + 1,
    )
    assert [e["loc"] for e in too_big.problems()] == [["body", "size_bytes"]]


def test_the_upload_route_documents_the_generated_limits():
    from functions.media.main import create_upload

    assert create_upload.__doc__ and describe_limits() in create_upload.__doc__
