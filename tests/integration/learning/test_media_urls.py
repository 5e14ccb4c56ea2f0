"""Playback and resource downloads answer Cloud CDN signed URLs when the CDN signing key is
configured (the cloud), and GCS V4 signed URLs without one (locally); issue 16 item 11.

The use cases run in process on the test stack's database, with the settings overridden as a
cloud function that mounts MEDIA_CDN_SIGNING_KEYS sees them. Each signature is recomputed here
from Google's documented algorithm (HMAC-SHA1 over the URL up to and including KeyName, with
the base64url-decoded key).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import UTC, datetime
from urllib.parse import parse_qs, urlsplit

import pytest

from shared import learning
from shared.platform.config import settings
from shared.platform.ids import uuid7
from tests.factories import enrolled_student, make_course, new_channel, new_user

pytestmark = pytest.mark.usefixtures("stack")

KEY = base64.urlsafe_b64encode(b"0123456789abcdef").decode()  # 16 bytes
MEDIA = "https://media.example.com"


@pytest.fixture(scope="module")
def school(admin_db):
    admin = admin_db()
    owner = new_user("Owner")
    channel = new_channel(owner)
    course = make_course(admin, channel, owner, lessons=[("video", 30.0)])
    student = enrolled_student(admin, channel, course["id"])
    resource = uuid7()
    admin.run(
        "INSERT INTO resources (id, channel_id, course_id, title, object_name, content_type,"
        " size_bytes) VALUES (:i, :c, :co, 'Week 1 notes.pdf', :o, 'application/pdf', 14)",
        i=resource,
        c=channel,
        co=course["id"],
        o=f"channels/{channel}/resources/{resource}.pdf",
    )
    video = admin.run("SELECT video_object FROM lessons WHERE id = :i", i=course["lessons"][0])
    yield {
        "channel": channel,
        "lesson": course["lessons"][0],
        "video_object": video[0][0],
        "resource": resource,
        "student": student,
    }
    admin.close()


@pytest.fixture
def cloud_cdn(monkeypatch):
    monkeypatch.setenv("MEDIA_CDN_BASE_URL", MEDIA)
    monkeypatch.setenv("MEDIA_CDN_KEY_NAME", "k1")
    monkeypatch.setenv("MEDIA_CDN_SIGNING_KEYS", json.dumps({"k1": KEY}))
    settings.cache_clear()
    yield
    settings.cache_clear()


def assert_cdn_signed(url: str) -> dict[str, list[str]]:
    signed_part, _, signature = url.rpartition("&Signature=")
    digest = hmac.new(base64.urlsafe_b64decode(KEY), signed_part.encode(), hashlib.sha1).digest()
    assert signature == base64.urlsafe_b64encode(digest).decode()
    assert signed_part.endswith("&KeyName=k1")
    return parse_qs(urlsplit(url).query)


def test_playback_answers_a_cdn_signed_url_of_the_lesson_video(school, cloud_cdn):
    s = school
    before = int(datetime.now(UTC).timestamp())
    out = learning.playback(channel_id=s["channel"], lesson_id=s["lesson"], user_id=s["student"])
    assert out["url"].startswith(f"{MEDIA}/{s['video_object']}?Expires=")
    query = assert_cdn_signed(out["url"])
    assert int(query["Expires"][0]) == int(out["expires_at"].timestamp())
    assert before + 900 <= int(out["expires_at"].timestamp()) <= before + 901  # the TTL as before
    assert "X-Goog-Signature" not in out["url"]


def test_resource_download_answers_a_cdn_signed_attachment_url(school, cloud_cdn):
    s = school
    out = learning.resource_download(
        channel_id=s["channel"], resource_id=s["resource"], user_id=s["student"]
    )
    assert out["url"].startswith(f"{MEDIA}/channels/{s['channel']}/resources/{s['resource']}.pdf?")
    query = assert_cdn_signed(out["url"])
    assert query["response-content-disposition"] == ['attachment; filename="Week 1 notes.pdf"']


def test_without_a_cdn_key_playback_stays_a_gcs_signed_url(school):
    s = school
    settings.cache_clear()
    assert settings().media_cdn_signing_keys is None  # the local stack mounts no CDN key
    out = learning.playback(channel_id=s["channel"], lesson_id=s["lesson"], user_id=s["student"])
    assert "X-Goog-Signature=" in out["url"] and "KeyName=" not in out["url"]
    assert not out["url"].startswith(MEDIA)
