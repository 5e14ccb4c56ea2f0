"""Recordings into lessons over HTTP (issue 11 item 4), the whole way through the local stack:
connect Zoom, schedule a class, the stand-in holds its MP4, Zoom's signed `recording.completed`
reaches the live webhook, the Cloud Task worker streams the file into the recordings bucket
and media's finalize makes it a ready video lesson of the batch's course, which an enrolled
student can play. Deliveries repeated make one lesson; the download token is in no log."""

from __future__ import annotations

import json
import struct
import time
import uuid
from pathlib import Path

import pytest
import requests

from tests.helpers import eventually, make_channel, signup
from tests.live_support import signed
from tests.live_zoom_support import connect_zoom, put_recording

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "tiny_faststart.mp4"


def mp4_of(size: int) -> bytes:
    head = FIXTURE.read_bytes()
    pad = size - len(head)
    return head + struct.pack(">I", pad) + b"free" + b"\x5a" * (pad - 8)


def api(gw, cid, suffix=""):
    return f"{gw}/v1/channels/{cid}{suffix}"


@pytest.fixture(scope="module")
def world(gateway_url, stack):
    gw = gateway_url
    owner = signup(gw)
    cid = make_channel(gw, owner)["id"]
    account = connect_zoom(gw, cid, owner)["account_id"]
    course = requests.post(
        api(gw, cid, "/courses"), json={"title": "Cohort"}, headers=owner.headers, timeout=10
    ).json()
    requests.post(
        api(gw, cid, f"/courses/{course['id']}/lessons"),
        json={"title": "Hi", "kind": "text", "body": "x"},
        headers=owner.headers,
        timeout=10,
    )
    r = requests.post(
        api(gw, cid, f"/courses/{course['id']}/publish"), headers=owner.headers, timeout=10
    )
    assert r.status_code == 200, r.text
    batch = requests.post(
        api(gw, cid, f"/courses/{course['id']}/batches"),
        json={"name": "A", "starts_at": "2031-01-01T00:00:00Z"},
        headers=owner.headers,
        timeout=10,
    ).json()["id"]
    student = signup(gw)
    r = requests.post(
        api(gw, cid, f"/courses/{course['id']}/enroll"),
        json={"batch_id": batch},
        headers=student.headers,
        timeout=10,
    )
    assert r.status_code == 201, r.text
    return {
        "cid": cid,
        "owner": owner,
        "account": account,
        "course": course["id"],
        "batch": batch,
        "student": student,
        "zoom": stack.env["ZOOM_STANDIN_URL"],
        "logs": Path(stack.state_dir) / "logs",
    }


def recording_completed(world, meeting_id: str, rec: dict) -> bytes:
    return json.dumps(
        {
            "event": "recording.completed",
            "event_ts": int(time.time() * 1000),
            "download_token": rec["download_token"],
            "payload": {
                "account_id": world["account"],
                "object": {
                    "id": int(meeting_id),
                    "uuid": "abc==",
                    "topic": "Week 1",
                    "recording_files": [
                        {
                            "id": f"f-{uuid.uuid4().hex[:8]}",
                            "meeting_id": "abc==",
                            "file_type": "MP4",
                            "file_extension": "MP4",
                            "file_size": rec["file_size"],
                            "recording_type": "shared_screen_with_speaker_view",
                            "status": "completed",
                            "download_url": rec["download_url"],
                        }
                    ],
                },
            },
        }
    ).encode()


def test_a_recording_becomes_a_ready_lesson_students_can_play(gateway_url, world):
    gw, cid = gateway_url, world["cid"]
    created = requests.post(
        api(gw, cid, f"/batches/{world['batch']}/sessions"),
        json={"title": "Week 1", "starts_at": "2031-03-01T09:00:00Z", "duration_minutes": 60},
        headers=world["owner"].headers,
        timeout=20,
    )
    assert created.status_code == 201, created.text
    sid = created.json()["id"]
    session_url = api(gw, cid, f"/batches/{world['batch']}/sessions/{sid}")
    meeting_id = requests.get(session_url, headers=world["owner"].headers).json()[
        "provider_meeting_id"
    ]
    rec = put_recording(world["zoom"], f"week1-{uuid.uuid4().hex}.mp4", mp4_of(700_000))
    body = recording_completed(world, meeting_id, rec)
    for _ in range(3):  # Zoom retries; a replay must not make a second lesson
        r = requests.post(
            f"{gw}/v1/webhooks/live/zoom", data=body, headers=signed(body), timeout=10
        )
        assert r.status_code == 200, r.text

    def lesson_ready():
        got = requests.get(session_url, headers=world["student"].headers, timeout=10).json()
        if not got["recording_lesson_id"]:
            return None
        course = requests.get(
            api(gw, cid, f"/courses/{world['course']}"), headers=world["owner"].headers
        ).json()
        [lesson] = [x for x in course["lessons"] if x["id"] == got["recording_lesson_id"]]
        return lesson if lesson["status"] == "ready" else None

    lesson = eventually(lesson_ready, timeout=60, interval=0.5)
    assert lesson["kind"] == "video" and lesson["title"] == "Recording: Week 1"
    course = requests.get(
        api(gw, cid, f"/courses/{world['course']}"), headers=world["owner"].headers
    ).json()
    assert [x["title"] for x in course["lessons"]].count("Recording: Week 1") == 1
    play = requests.get(
        api(gw, cid, f"/lessons/{lesson['id']}/playback"),
        headers=world["student"].headers,
        timeout=10,
    )
    assert play.status_code == 200, play.text
    assert play.json()["url"]
    # the download token went through the task body only: no log of the stack has it
    for log in world["logs"].glob("*.log"):
        assert rec["download_token"] not in log.read_text(errors="replace"), log.name
