"""The core loop over HTTP on the local stack, nothing faked: a creator builds a course with a
video lesson and uploads a real MP4 through the signed URL; the storage finalize event makes it
ready; a student enrolls, plays it, sends heartbeats to 90 %, and the course completes."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import requests

from tests.helpers import eventually, make_channel, signup

pytestmark = pytest.mark.e2e
MP4 = (Path(__file__).resolve().parent.parent / "fixtures" / "tiny_faststart.mp4").read_bytes()


def test_creator_to_completed_course(gateway_url, admin_db):
    gw = gateway_url
    creator = signup(gw, name="Creator")
    ch = make_channel(gw, creator)
    c = f"{gw}/v1/channels/{ch['id']}"

    # 1. the creator builds a course with one video lesson
    r = requests.post(
        f"{c}/courses",
        json={"title": "Filming 101", "description": "Light"},
        headers=creator.headers,
        timeout=10,
    )
    assert r.status_code == 201, r.text
    course = r.json()
    r = requests.post(
        f"{c}/courses/{course['id']}/lessons",
        json={"title": "Three seconds", "kind": "video"},
        headers=creator.headers,
        timeout=10,
    )
    assert r.status_code == 201, r.text
    lesson = r.json()
    assert lesson["status"] == "pending_media"

    # 2. uploads the MP4 straight to storage with the signed URL and its exact headers
    r = requests.post(
        f"{c}/uploads",
        headers=creator.headers,
        timeout=10,
        json={
            "purpose": "lesson_video",
            "lesson_id": lesson["id"],
            "filename": "intro.mp4",
            "content_type": "video/mp4",
            "size_bytes": len(MP4),
        },
    )
    assert r.status_code == 201, r.text
    ticket = r.json()
    put = requests.put(ticket["url"], data=MP4, headers=ticket["headers"], timeout=30)
    assert put.status_code in (200, 201), put.text

    # 3. the finalize event (GCS -> Pub/Sub -> media_finalized) makes the lesson ready
    eventually(
        lambda: requests.get(
            f"{c}/courses/{course['id']}", headers=creator.headers, timeout=10
        ).json()["lessons"][0]["status"],
        "ready",
    )
    r = requests.post(f"{c}/courses/{course['id']}/publish", headers=creator.headers, timeout=10)
    assert r.status_code == 200 and r.json()["status"] == "published", r.text

    # 4. a student enrolls and gets a playable URL
    student = signup(gw, name="Student")
    r = requests.post(f"{c}/courses/{course['id']}/enroll", headers=student.headers, timeout=10)
    assert r.status_code == 201, r.text
    r = requests.get(f"{c}/lessons/{lesson['id']}/playback", headers=student.headers, timeout=10)
    assert r.status_code == 200, r.text
    assert requests.get(r.json()["url"], timeout=10).content == MP4

    # 5. watches in real time, one heartbeat every half second, until 90 % of 3 s
    hb = f"{c}/lessons/{lesson['id']}/heartbeats"
    progress_url = f"{c}/courses/{course['id']}/progress"
    position, progress = 0.0, None
    for _ in range(12):
        r = requests.post(
            hb,
            json={"session_id": "player-1", "position_seconds": position, "playing": True},
            headers=student.headers,
            timeout=10,
        )
        assert r.status_code == 204, r.text
        progress = requests.get(progress_url, headers=student.headers, timeout=10).json()
        if progress["completed_lessons"] == 1:
            break
        time.sleep(0.5)
        position = min(3.0, position + 0.5)
    assert progress["completed_lessons"] == 1 and progress["percent"] == 100, progress
    # the course completion is written right after the lesson's, by the heartbeat writer
    eventually(
        lambda: (
            requests.get(progress_url, headers=student.headers, timeout=10).json()["completed_at"]
            is not None
        ),
        True,
    )
    assert progress["lessons"][0]["watched_seconds"] >= 2.7

    # 6. the course is complete, exactly once
    mine = requests.get(f"{gw}/v1/me/enrollments", headers=student.headers, timeout=10).json()
    assert mine["items"][0]["completed_at"] is not None
    conn = admin_db()
    try:
        events = conn.run(
            "SELECT count(*) FROM outbox WHERE channel_id = :c AND event_type = 'course.completed'",
            c=ch["id"],
        )
    finally:
        conn.close()
    assert events == [[1]]
