"""The calendar feed's pure rules: the signed token (forged, mangled, other key: refused) and
the iCalendar document (stable UIDs, SEQUENCE, cancelled events marked, parsed back by the
same library calendar apps' parsers agree with)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from icalendar import Calendar

from shared.live import calendar_rules as r

KEY = "k" * 40
USER = str(uuid.uuid4())
NONCE = "n0nce-0123456789abcdef"


def test_a_token_names_its_user_and_nonce():
    token = r.make_token(USER, NONCE, KEY)
    assert r.read_token(token, ["other" * 8, KEY]) == (USER, NONCE)


def test_forged_mangled_and_foreign_tokens_are_refused():
    token = r.make_token(USER, NONCE, KEY)
    body, mac = token.split(".")
    other_user = r.make_token(str(uuid.uuid4()), NONCE, KEY).split(".")[0]
    for bad in (
        f"{other_user}.{mac}",  # someone else's id under this MAC
        f"{body}.{mac[:-2]}AA",
        f"{body}",
        f"{body}.{mac}.x",
        "%%%.***",
        "",
        "a" * 300,
        r.make_token(USER, NONCE, "another key" * 4),
        r.make_token(USER, "short", KEY),
    ):
        assert r.read_token(bad, [KEY]) is None, bad


def session(**over):
    s = {
        "id": uuid.uuid4(),
        "title": "Week 1",
        "starts_at": datetime(2031, 3, 1, 9, tzinfo=UTC),
        "duration_minutes": 90,
        "status": "scheduled",
        "ics_sequence": 0,
        "course_title": "Course",
        "batch_name": "Spring",
        "channel_name": "Chan",
        "join_url": "https://zoom.local/j/1",
    }
    return {**s, **over}


def events(ics: bytes):
    return {str(e["UID"]): e for e in Calendar.from_ical(ics).walk("VEVENT")}


def test_the_calendar_has_stable_uids_sequence_and_cancellations():
    now = datetime(2031, 2, 1, tzinfo=UTC)
    a, b = session(), session(status="cancelled", ics_sequence=3, title="Gone")
    first = events(r.calendar([a, b], now=now))
    assert set(first) == {f"{a['id']}@{r.UID_DOMAIN}", f"{b['id']}@{r.UID_DOMAIN}"}
    ea, eb = first[r.session_uid(str(a["id"]))], first[r.session_uid(str(b["id"]))]
    assert ea.decoded("dtstart") == a["starts_at"]
    assert ea.decoded("dtend") - ea.decoded("dtstart") == timedelta(minutes=90)
    assert int(ea["SEQUENCE"]) == 0 and str(ea["STATUS"]) == "CONFIRMED"
    assert str(ea["URL"]) == a["join_url"]
    assert int(eb["SEQUENCE"]) == 3 and str(eb["STATUS"]) == "CANCELLED" and "URL" not in eb
    # the same session moved: same UID, higher SEQUENCE
    moved = {**a, "starts_at": a["starts_at"] + timedelta(days=1), "ics_sequence": 1}
    again = events(r.calendar([moved], now=now))[r.session_uid(str(a["id"]))]
    assert int(again["SEQUENCE"]) == 1
    assert again.decoded("dtstart") == moved["starts_at"]


def test_text_is_escaped_not_injected():
    s = session(title="Q&A; line\nBEGIN:VEVENT")
    cal = Calendar.from_ical(r.calendar([s], now=datetime(2031, 1, 1, tzinfo=UTC)))
    (ev,) = cal.walk("VEVENT")
    assert str(ev["SUMMARY"]) == "Q&A; line\nBEGIN:VEVENT"
