"""The pure rules of live attendance: Zoom's signature, delivery keys, participant payloads,
interval pairing and union (with property-style checks against a per-second count), who is a
student and who a guest, the threshold, and which reminder is due."""

from __future__ import annotations

import hashlib
import hmac
import json
import random
from datetime import UTC, datetime, timedelta

import pytest

from shared.live import attendance_rules as r

T0 = datetime(2031, 3, 1, 9, 0, tzinfo=UTC)
SECRET = "zoom_secret_token"


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


# -- signature ------------------------------------------------------------------------------
def test_sign_is_zooms_formula():
    body = b'{"event":"meeting.started"}'
    mac = hmac.new(SECRET.encode(), b"v0:1700000000:" + body, hashlib.sha256).hexdigest()
    assert r.sign(body, SECRET, 1700000000) == f"v0={mac}"


def test_a_correct_signature_within_the_window_passes_both_ways():
    body = b"{}"
    for skew in (-300, 0, 300):
        r.verify(body, r.sign(body, SECRET, 1000), "1000", SECRET, now=1000 + skew)


@pytest.mark.parametrize(
    ("signature", "timestamp", "now"),
    [
        (None, "1000", 1000),
        ("v0=abc", None, 1000),
        ("", "1000", 1000),
        ("v0=" + "0" * 64, "1000", 1000),  # wrong MAC
        ("sig", "10x0", 1000),  # malformed timestamp
        ("OK", "1000", 1301),  # stale
        ("OK", "1000", 699),  # from the future
        ("OK-other-secret", "1000", 1000),
        ("OK-other-body", "1000", 1000),
    ],
)
def test_bad_signatures_are_refused(signature, timestamp, now):
    body = b'{"a":1}'
    if signature == "OK":
        signature = r.sign(body, SECRET, 1000)
    elif signature == "OK-other-secret":
        signature = r.sign(body, "another", 1000)
    elif signature == "OK-other-body":
        signature = r.sign(b'{"a":2}', SECRET, 1000)
    with pytest.raises(r.BadSignature):
        r.verify(body, signature, timestamp, SECRET, now=now)


def test_encrypted_token_is_hex_hmac_of_the_plain_token():
    expected = hmac.new(SECRET.encode(), b"qgg8vlvZRS6UYooatFL8Aw", hashlib.sha256).hexdigest()
    assert r.encrypted_token("qgg8vlvZRS6UYooatFL8Aw", SECRET) == expected


def test_dedupe_key_is_stable_and_tells_deliveries_apart():
    k = r.dedupe_key("meeting.started", 1, b"x")
    assert k == r.dedupe_key("meeting.started", 1, b"x") and len(k) == 64
    assert (
        len(
            {
                k,
                r.dedupe_key("meeting.ended", 1, b"x"),
                r.dedupe_key("meeting.started", 2, b"x"),
                r.dedupe_key("meeting.started", 1, b"y"),
            }
        )
        == 4
    )


# -- payloads -------------------------------------------------------------------------------
def joined(**participant) -> bytes:
    return json.dumps(
        {
            "event": "meeting.participant_joined",
            "event_ts": 1,
            "payload": {
                "account_id": "acc",
                "object": {"id": 85746065, "participant": participant},
            },
        }
    ).encode()


def test_parse_event_reads_account_meeting_and_participant():
    e = r.parse_event(
        joined(
            participant_uuid="P1",
            email="A@x.org",
            user_name="Ann",
            join_time="2031-03-01T09:00:05Z",
        )
    )
    assert (e.event, e.account_id, e.meeting_id) == (
        "meeting.participant_joined",
        "acc",
        "85746065",
    )
    p = r.participation(e)
    assert p is not None
    assert (p.kind, p.device_key, p.at, p.email) == ("join", "P1", at(5), "A@x.org")


@pytest.mark.parametrize(
    "body", [b"not json", b"[]", b'{"event":1}', b'{"event":"x"}', b'{"event":"x","payload":{}}']
)
def test_unreadable_events_are_refused(body):
    with pytest.raises(r.NotAnEvent):
        r.parse_event(body)


def test_a_participant_without_time_or_identity_is_skipped():
    assert r.participation(r.parse_event(joined(participant_uuid="P"))) is None
    assert r.participation(r.parse_event(joined(join_time="2031-03-01T09:00:05Z"))) is None
    # no uuid: the in-meeting user id, else the email and name, names the device
    p = r.participation(r.parse_event(joined(user_id="16778240", join_time="2031-03-01T09:00:05Z")))
    assert p is not None and p.device_key == "16778240"


# -- intervals ------------------------------------------------------------------------------
def test_join_leave_pairs_and_open_ends_close_at_the_meeting_end():
    evs = [("join", at(10)), ("leave", at(70)), ("join", at(100))]
    assert r.device_intervals(evs, opened_at=at(0), closed_at=at(200)) == [
        (at(10), at(70)),
        (at(100), at(200)),
    ]


def test_a_leave_seen_first_counts_from_the_meeting_start():
    assert r.device_intervals([("leave", at(50))], opened_at=at(0), closed_at=at(99)) == [
        (at(0), at(50))
    ]


def test_delivery_order_and_duplicates_do_not_matter():
    evs = [("join", at(10)), ("leave", at(70)), ("join", at(100)), ("leave", at(160))]
    base = r.device_intervals(evs, opened_at=at(0), closed_at=at(300))
    rng = random.Random(7)
    for _ in range(50):
        shuffled = evs * rng.randint(1, 3)
        rng.shuffle(shuffled)
        assert r.device_intervals(shuffled, opened_at=at(0), closed_at=at(300)) == base


def test_union_counts_overlaps_once():
    ivs = [(at(0), at(60)), (at(30), at(90)), (at(90), at(100)), (at(200), at(210))]
    assert r.union_seconds(ivs) == 110
    assert r.union_seconds([]) == 0


def _brute(ivs):
    covered = set()
    for a, b in ivs:
        covered |= set(range(int((a - T0).total_seconds()), int((b - T0).total_seconds())))
    return len(covered)


def test_union_matches_a_per_second_count_property():
    rng = random.Random(11)
    for _ in range(300):
        ivs = []
        for _ in range(rng.randint(0, 8)):
            a = rng.randint(0, 500)
            ivs.append((at(a), at(a + rng.randint(1, 120))))
        assert r.union_seconds(ivs) == _brute(ivs)


def test_several_devices_never_count_more_than_the_meeting_property():
    """Whatever the devices, reconnects and duplicates, a person's seconds never exceed the
    meeting's length and equal the per-second union of their devices' intervals."""
    rng = random.Random(5)
    for _ in range(200):
        rows = []
        for d in range(rng.randint(1, 4)):
            t = 0
            for _ in range(rng.randint(1, 4)):
                t += rng.randint(0, 100)
                rows.append(r.Row(f"d{d}", "join", at(t), None, "a@x.org", "A"))
                t += rng.randint(1, 100)
                if rng.random() < 0.8:
                    rows.append(r.Row(f"d{d}", "leave", at(t), None, "a@x.org", "A"))
        rows += rng.sample(rows, k=min(len(rows), 3))  # duplicates
        rng.shuffle(rows)  # out of order
        secs = r.seconds_of(rows, opened_at=at(0), closed_at=at(600))
        assert 0 <= secs <= 600
        ivs = []
        for d in {x.device_key for x in rows}:
            evs = [(x.kind, x.at) for x in rows if x.device_key == d]
            ivs += r.device_intervals(evs, opened_at=at(0), closed_at=at(600))
        assert secs == _brute(ivs)


# -- matching and threshold -----------------------------------------------------------------
def test_attribution_prefers_registrant_id_then_email_and_keeps_guests_apart():
    rows = [
        r.Row("d1", "join", at(0), "REG-1", "someone@else.org", "Ann"),
        r.Row("d2", "join", at(0), None, "BOB@Example.ORG", "Bob"),
        r.Row("d3", "join", at(0), None, "stranger@x.org", "Who"),
        r.Row("d4", "join", at(0), None, None, "Phone"),
    ]
    students, guests = r.attribute(
        rows,
        registrants={"REG-1": "ann"},
        emails={"bob@example.org": "bob", "someone@else.org": "x"},
    )
    assert {k: [x.device_key for x in v] for k, v in students.items()} == {
        "ann": ["d1"],
        "bob": ["d2"],
    }
    assert set(guests) == {"d3", "d4"}


@pytest.mark.parametrize(
    ("seconds", "minutes", "pct", "expected"),
    [
        (1800, 60, 50, True),
        (1799, 60, 50, False),
        (3600, 60, 100, True),
        (35, 60, 1, False),
        (36, 60, 1, True),
    ],
)
def test_attended_threshold(seconds, minutes, pct, expected):
    assert r.attended(seconds, minutes, pct) is expected


def test_window_uses_zoom_times_else_the_schedule():
    assert r.window(
        scheduled_start=at(0),
        started_at=at(30),
        ended_at=at(900),
        duration_minutes=10,
        now=at(5000),
    ) == (at(30), at(900))
    opened, closed = r.window(
        scheduled_start=at(0), started_at=None, ended_at=None, duration_minutes=10, now=at(100)
    )
    assert (opened, closed) == (at(0), at(100))


# -- reminders ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("hours_ahead", "expected"),
    [
        (30, None),
        (24, "24h"),
        (23, "24h"),
        (1.5, "24h"),
        (1, "1h"),
        (0.1, "1h"),
        (0, None),
        (-1, None),
    ],
)
def test_due_reminder(hours_ahead, expected):
    starts = at(0)
    assert r.due_reminder(starts, starts - timedelta(hours=hours_ahead)) == expected
