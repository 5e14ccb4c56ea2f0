"""Storage quota through the API: upload URLs past the channel plan's quota are refused with
409 problem+json giving the figures; deleting the lesson gives its bytes back."""

import requests

from shared.media.rules import GiB, storage_quota_bytes
from tests.helpers import assert_problem, make_channel, signup

VIDEO = 5 * GiB


def test_upload_urls_past_the_free_quota_are_409_until_media_is_deleted(gateway_url):
    owner = signup(gateway_url)
    cid = make_channel(gateway_url, owner)["id"]
    base = f"{gateway_url}/v1/channels/{cid}"
    course = requests.post(
        f"{base}/courses", json={"title": "Q"}, headers=owner.headers, timeout=10
    ).json()
    lesson = requests.post(
        f"{base}/courses/{course['id']}/lessons",
        json={"title": "V", "kind": "video"},
        headers=owner.headers,
        timeout=10,
    ).json()

    def ask(size: int) -> requests.Response:
        return requests.post(
            f"{base}/uploads",
            json={
                "purpose": "lesson_video",
                "lesson_id": lesson["id"],
                "filename": "v.mp4",
                "content_type": "video/mp4",
                "size_bytes": size,
            },
            headers=owner.headers,
            timeout=10,
        )

    quota = storage_quota_bytes("free")
    for _ in range(quota // VIDEO):
        assert ask(VIDEO).status_code == 201
    body = assert_problem(ask(VIDEO), 409)
    assert (body["quota_bytes"], body["used_bytes"], body["requested_bytes"]) == (
        quota,
        quota // VIDEO * VIDEO,
        VIDEO,
    )
    assert body["plan"] == "free" and "storage quota" in body["detail"]

    # Deleting the lesson withdraws its pending uploads: their bytes count no more.
    r = requests.delete(
        f"{base}/courses/{course['id']}/lessons/{lesson['id']}", headers=owner.headers, timeout=10
    )
    assert r.status_code == 204, r.text
    other = requests.post(
        f"{base}/courses/{course['id']}/lessons",
        json={"title": "V2", "kind": "video"},
        headers=owner.headers,
        timeout=10,
    ).json()
    lesson["id"] = other["id"]
    assert ask(VIDEO).status_code == 201
