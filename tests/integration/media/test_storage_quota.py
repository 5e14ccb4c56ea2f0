"""Per-plan storage quota (issue 16, item 10): counted when an upload URL is issued, released
when the file is deleted, replaced or never attached; unattached uploads swept after a day."""

import pytest

from shared import media
from shared.catalog import service as courses
from shared.catalog.schemas import ResourceIn
from shared.media import service as media_service
from shared.media.rules import GiB, storage_quota_bytes
from shared.media.schemas import UploadIn
from shared.platform.db import transaction
from shared.platform.errors import Conflict
from tests.factories import video_lesson_in_new_channel

pytestmark = pytest.mark.usefixtures("stack")
FREE = storage_quota_bytes("free")
VIDEO = 5 * GiB  # the largest upload


def new_channel() -> dict[str, str]:
    """A new channel with a draft course holding one video lesson (tests.factories)."""
    made = video_lesson_in_new_channel()
    return {"cid": made["channel_id"], **made}


def ask(c, size: int, purpose: str = "lesson_video") -> str:
    fields = (
        {"lesson_id": c["lesson_id"], "filename": "v.mp4", "content_type": "video/mp4"}
        if purpose == "lesson_video"
        else {"course_id": c["course_id"], "filename": "r.pdf", "content_type": "application/pdf"}
    )
    ticket = media_service.create_upload(
        channel_id=c["cid"],
        user_id=c["owner"],
        data=UploadIn(purpose=purpose, size_bytes=size, **fields),
    )
    return ticket["upload_id"]


def used_bytes(cid: str) -> int:
    with transaction(channel_id=cid) as tx:
        return int(
            tx.scalar(
                "SELECT coalesce(sum(size_bytes), 0) FROM uploads"
                " WHERE status <> 'rejected' AND released_at IS NULL"
            )
        )


def fill(c) -> list[str]:
    """Pending uploads up to exactly the free quota (reaching it is allowed)."""
    ids = [ask(c, VIDEO) for _ in range(FREE // VIDEO)]
    if rest := FREE - len(ids) * VIDEO:
        ids.append(ask(c, rest))
    assert used_bytes(c["cid"]) == FREE
    return ids


def test_an_upload_past_the_plans_quota_is_409_with_the_figures():
    c = new_channel()
    fill(c)
    with pytest.raises(Conflict) as err:
        ask(c, 1)
    assert err.value.extra == {
        "quota_bytes": FREE,
        "used_bytes": FREE,
        "requested_bytes": 1,
        "plan": "free",
    }
    assert "storage quota" in err.value.detail
    with transaction(channel_id=c["cid"]) as tx:  # nothing was recorded for the refused one
        assert tx.scalar("SELECT count(*) FROM uploads") == FREE // VIDEO


def test_a_rejected_upload_gives_its_bytes_back():
    c = new_channel()
    first, *_ = fill(c)
    with transaction(channel_id=c["cid"]) as tx:
        tx.exec("UPDATE uploads SET status = 'rejected' WHERE id = :u", u=first)
    assert ask(c, VIDEO)


def test_deleting_the_lesson_releases_its_ready_video_from_the_quota():
    c = new_channel()
    video, *_ = fill(c)
    with transaction(channel_id=c["cid"]) as tx:  # as media_finalized leaves a ready video
        name = tx.scalar(
            "UPDATE uploads SET status = 'ready' WHERE id = :u RETURNING object_name", u=video
        )
        tx.exec("UPDATE lessons SET video_object = :o WHERE id = :l", o=name, l=c["lesson_id"])
    courses.delete_lesson(
        channel_id=c["cid"], user_id=c["owner"], course_id=c["course_id"], lesson_id=c["lesson_id"]
    )
    assert used_bytes(c["cid"]) == 0  # the video released, the other pending ones withdrawn
    with transaction(channel_id=c["cid"]) as tx:
        assert tx.scalar("SELECT released_at IS NOT NULL FROM uploads WHERE id = :u", u=video)


def test_a_release_frees_exactly_the_released_objects():
    c = new_channel()
    kept, gone = ask(c, 100), ask(c, 30)
    with transaction(channel_id=c["cid"]) as tx:
        name = tx.scalar("SELECT object_name FROM uploads WHERE id = :u", u=gone)
        assert media.release_media(tx, channel_id=c["cid"], objects=[name], reason="test") == 1
    assert used_bytes(c["cid"]) == 100
    assert kept


def backdate(cid: str, *upload_ids: str, hours: int = 25) -> None:
    with transaction(channel_id=cid) as tx:
        tx.exec(
            "UPDATE uploads SET created_at = now() - make_interval(hours => :h)"
            " WHERE id = ANY(CAST(:ids AS uuid[]))",
            h=hours,
            ids=list(upload_ids),
        )


def test_uploads_unattached_for_a_day_are_swept_and_their_objects_released():
    c = new_channel()
    never_arrived = ask(c, VIDEO)
    spare = ask(c, 1000, "resource")  # arrived, never made a resource
    attached = ask(c, 2000, "resource")
    recent = ask(c, 3000)  # pending, but its day is not over
    with transaction(channel_id=c["cid"]) as tx:
        tx.exec(
            "UPDATE uploads SET status = 'ready' WHERE id = ANY(CAST(:ids AS uuid[]))",
            ids=[spare, attached],
        )
    courses.create_resource(
        channel_id=c["cid"],
        user_id=c["owner"],
        course_id=c["course_id"],
        data=ResourceIn(title="R", upload_id=attached),
    )
    backdate(c["cid"], never_arrived, spare, attached)
    backdate(c["cid"], recent, hours=23)

    assert media.sweep_unattached() >= 2

    with transaction(channel_id=c["cid"]) as tx:
        rows = {
            str(r["id"]): (r["status"], r["reason"])
            for r in tx.all("SELECT id, status, reason FROM uploads")
        }
        released = tx.all(
            "SELECT payload FROM outbox WHERE event_type = 'media.released'"
            " AND payload->>'reason' = 'upload.unattached'"
        )
        swept_audit = tx.scalar("SELECT count(*) FROM audit_log WHERE action = 'uploads.swept'")
    assert rows[never_arrived] == ("rejected", "not attached within a day")
    assert rows[spare] == ("rejected", "not attached within a day")
    assert rows[attached] == ("ready", None)
    assert rows[recent] == ("pending", None)
    assert len(released) == 1 and len(released[0]["payload"]["objects"]) == 2
    assert swept_audit == 1
    assert used_bytes(c["cid"]) == 2000 + 3000
    # a swept resource upload can no longer become a resource
    with pytest.raises(Conflict):
        courses.create_resource(
            channel_id=c["cid"],
            user_id=c["owner"],
            course_id=c["course_id"],
            data=ResourceIn(title="Late", upload_id=spare),
        )
    # and a second sweep finds nothing more of this channel
    media.sweep_unattached()
    with transaction(channel_id=c["cid"]) as tx:
        assert tx.scalar("SELECT count(*) FROM audit_log WHERE action = 'uploads.swept'") == 1
