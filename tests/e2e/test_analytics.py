"""Creator analytics over HTTP through the gateway: a student's enrollment and completions show
in the summary at once (no cron between), the CSV export, and who may ask."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import requests

from tests.factories import make_course
from tests.helpers import assert_problem, eventually, make_channel, member_of, signup

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def school(gateway_url, admin_db):
    """A channel with a free one-lesson text course; a student enrolled in it and completed it
    (so enrolled, completed the lesson and the course) over HTTP."""
    admin = admin_db()
    owner = signup(gateway_url)
    ch = make_channel(gateway_url, owner)
    course = make_course(admin, ch["id"], owner.id, lessons=(("text", None),))
    c = f"{gateway_url}/v1/channels/{ch['id']}"
    student = signup(gateway_url)
    r = requests.post(f"{c}/courses/{course['id']}/enroll", headers=student.headers, timeout=10)
    assert r.status_code == 201, r.text
    r = requests.post(
        f"{c}/lessons/{course['lessons'][0]}/complete", headers=student.headers, timeout=10
    )
    assert r.status_code == 200 and r.json()["course_completed"] is True, r.text
    admin.close()
    return {"owner": owner, "ch": ch, "c": c, "course": course["id"], "student": student}


def today() -> str:
    return datetime.now(UTC).date().isoformat()


def test_summary_counts_what_just_happened(school):
    r = requests.get(
        f"{school['c']}/analytics/summary",
        params={"from": today(), "to": today()},
        headers=school["owner"].headers,
        timeout=10,
    )
    assert r.status_code == 200, r.text
    s = r.json()
    assert (s["enrollments"], s["lesson_completions"], s["course_completions"]) == (1, 1, 1)
    assert (s["watch_seconds"], s["resource_downloads"], s["revenue"]) == (0.0, 0, [])
    assert (s["certificate_views"], s["attendance_rate"]) == (0, [])
    assert [d["day"] for d in s["series"]] == [today()]

    def issued() -> int:
        r = requests.get(
            f"{school['c']}/analytics/summary", headers=school["owner"].headers, timeout=10
        )
        return int(r.json()["certificates_issued"])

    eventually(issued, 1)  # completing the course issued a certificate (certificate_issuer)
    assert s["series"][0]["enrollments"] == 1
    r = requests.get(
        f"{school['c']}/analytics/summary",
        params={"course_id": school["course"]},
        headers=school["owner"].headers,
        timeout=10,
    )
    assert r.status_code == 200, r.text
    assert len(r.json()["series"]) == 30 and r.json()["enrollments"] == 1


def test_csv_export(school):
    r = requests.get(
        f"{school['c']}/analytics/export.csv",
        params={"from": today(), "to": today(), "kind": "daily"},
        headers=school["owner"].headers,
        timeout=10,
    )
    assert r.status_code == 200, r.text
    assert r.headers["Content-Type"].startswith("text/csv")
    assert r.headers["Content-Disposition"] == (
        f'attachment; filename="analytics-daily-{today()}-{today()}.csv"'
    )
    rows = list(csv.DictReader(io.StringIO(r.text, newline="")))
    assert len(rows) == 1 and rows[0]["day"] == today()
    assert (rows[0]["enrollments"], rows[0]["course_completions"]) == ("1", "1")
    assert r.text.endswith("\r\n")


def test_staff_only_other_channels_hidden_and_bad_ranges(gateway_url, school):
    url = f"{school['c']}/analytics/summary"
    assert_problem(requests.get(url, timeout=10), 401)
    assert_problem(requests.get(url, headers=school["student"].headers, timeout=10), 403)
    moderator = member_of(gateway_url, school["ch"]["id"], school["owner"], "moderator")
    assert_problem(requests.get(url, headers=moderator.headers, timeout=10), 403)
    instructor = member_of(gateway_url, school["ch"]["id"], school["owner"], "instructor")
    assert requests.get(url, headers=instructor.headers, timeout=10).status_code == 200
    stranger = signup(gateway_url)
    other = make_channel(gateway_url, stranger)
    assert_problem(requests.get(url, headers=stranger.headers, timeout=10), 404)
    own = f"{gateway_url}/v1/channels/{other['id']}/analytics/export.csv"
    assert requests.get(own, headers=stranger.headers, timeout=10).status_code == 200
    assert_problem(
        requests.get(own, headers=school["owner"].headers, timeout=10), 404
    )  # the owner of another channel
    long_ago = (datetime.now(UTC).date() - timedelta(days=366)).isoformat()
    for params in (
        {"from": today(), "to": long_ago},  # from > to
        {"from": long_ago, "to": today()},  # 367 days
        {"tz": "Mars/Olympus"},
        {"from": "2026-02-30"},
        {"from": "0001-01-01", "to": "0001-01-02", "tz": "America/New_York"},
        {"to": "9999-12-31"},
        {"kind": "users"},
    ):
        target = url if "kind" not in params else url.replace("summary", "export.csv")
        r = requests.get(target, params=params, headers=school["owner"].headers, timeout=10)
        assert_problem(r, 422)
    r = requests.get(url, params={"course_id": "nope"}, headers=school["owner"].headers, timeout=10)
    assert_problem(r, 404)


def test_time_zone_setting_over_http(gateway_url, school):
    url = f"{school['c']}/analytics/settings"
    owner = school["owner"].headers
    assert requests.get(url, headers=owner, timeout=10).json() == {"timezone": "UTC"}
    instructor = member_of(gateway_url, school["ch"]["id"], school["owner"], "instructor")
    body = {"timezone": "Pacific/Kiritimati"}  # UTC+14: today there is tomorrow in UTC, often
    assert_problem(requests.put(url, json=body, headers=instructor.headers, timeout=10), 403)
    for bad in ({"timezone": "Mars/Olympus"}, {"timezone": "../etc/passwd"}, {"tz": "UTC"}, {}):
        assert_problem(requests.put(url, json=bad, headers=owner, timeout=10), 422)
    stranger = signup(gateway_url)
    assert_problem(requests.put(url, json=body, headers=stranger.headers, timeout=10), 404)
    assert requests.get(url, headers=instructor.headers, timeout=10).json() == {"timezone": "UTC"}
    r = requests.put(url, json=body, headers=owner, timeout=10)
    assert r.status_code == 200 and r.json() == body, r.text
    try:
        s = requests.get(f"{school['c']}/analytics/summary", headers=owner, timeout=10).json()
        kiritimati_today = datetime.now(UTC).astimezone(ZoneInfo("Pacific/Kiritimati")).date()
        assert (s["tz"], s["to"]) == ("Pacific/Kiritimati", kiritimati_today.isoformat())
        s = requests.get(
            f"{school['c']}/analytics/summary", params={"tz": "UTC"}, headers=owner, timeout=10
        ).json()
        assert (s["tz"], s["to"]) == ("UTC", today())
    finally:
        requests.put(url, json={"timezone": "UTC"}, headers=owner, timeout=10)
