"""Pure rules of recordings into lessons: which file of a recording.completed event, where it
may be downloaded from, where it is stored and until when, and the pipeline state shown."""

from datetime import UTC, datetime, timedelta

import pytest

from shared.live.recording_rules import (
    CHUNK_BYTES,
    download_allowed,
    full_chunks,
    lesson_title,
    object_name,
    pick_mp4,
    retain_until,
    shown_state,
    task_id,
)


def event(*files):
    return {
        "event": "recording.completed",
        "download_token": "tok",
        "payload": {
            "account_id": "acc",
            "object": {"id": 81234567890, "topic": "Week 1", "recording_files": list(files)},
        },
    }


def f(kind, view="shared_screen_with_speaker_view", fid="f1", status="completed", size=10):
    return {
        "id": fid,
        "file_type": kind,
        "recording_type": view,
        "status": status,
        "file_size": size,
        "download_url": f"https://zoom.us/rec/download/{fid}",
    }


def test_the_mp4_is_picked_and_the_best_view_wins():
    got = pick_mp4(
        event(
            f("M4A", "audio_only", "a"),
            f("MP4", "gallery_view", "g"),
            f("MP4", "shared_screen_with_speaker_view", "s"),
            f("TRANSCRIPT", "audio_transcript", "t"),
        )
    )
    assert got is not None
    assert (got.file_id, got.meeting_id, got.topic) == ("s", "81234567890", "Week 1")
    assert got.download_url == "https://zoom.us/rec/download/s" and got.size_bytes == 10


@pytest.mark.parametrize(
    "ev",
    [
        event(f("M4A", "audio_only")),
        event(f("MP4", status="processing")),
        event(),
        {"payload": {"object": {"recording_files": "nope"}}},
        {"payload": None},
        "garbage",
        None,
    ],
)
def test_events_without_a_usable_mp4_give_none(ev):
    assert pick_mp4(ev) is None


def test_downloads_go_only_to_zoom_or_the_local_stand_in():
    assert download_allowed("https://zoom.us/rec/download/x", local_base=None)
    assert download_allowed("https://us06web.zoom.us/rec/download/x", local_base=None)
    assert not download_allowed("http://zoom.us/rec/download/x", local_base=None)  # no TLS
    assert not download_allowed("https://zoom.us.evil.test/x", local_base=None)
    assert not download_allowed("https://evilzoom.us/x", local_base=None)
    assert not download_allowed("http://127.0.0.1:9/rec/x", local_base=None)
    assert download_allowed("http://127.0.0.1:9/rec/x", local_base="http://127.0.0.1:9")
    assert not download_allowed("http://127.0.0.1:99/rec/x", local_base="http://127.0.0.1:9")


def test_storage_name_retention_and_title():
    assert object_name("c", "s", "i") == "channels/c/live-sessions/s/i.mp4"
    now = datetime(2026, 11, 30, tzinfo=UTC)
    assert retain_until(now, 30) == now + timedelta(days=30)
    assert retain_until(now, 0) == now + timedelta(days=1)
    assert lesson_title("x" * 300) == ("Recording: " + "x" * 300)[:200]


def test_task_ids_dedupe_a_delivery_but_never_carry_the_token():
    one = task_id("i", "https://zoom.us/a", "secret-token")
    assert one == task_id("i", "https://zoom.us/a", "secret-token")
    assert one != task_id("i", "https://zoom.us/a", "another-token")
    assert "secret-token" not in one


def test_chunks_keep_the_last_piece_back():
    assert full_chunks(0) == 0
    assert full_chunks(CHUNK_BYTES) == 0  # the final chunk carries the total: keep it
    assert full_chunks(CHUNK_BYTES + 1) == 1
    assert full_chunks(3 * CHUNK_BYTES) == 2


def test_the_state_shown_counts_a_ready_lesson_as_ready():
    assert shown_state("lesson_pending", "ready") == "ready"
    assert shown_state("lesson_pending", "pending_media") == "lesson_pending"
    assert shown_state("downloading", None) == "downloading"
