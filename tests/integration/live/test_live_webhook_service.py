"""The webhook-driven half of live classes in process, against the real Postgres (and the
stack's mail sink): concurrent duplicate deliveries make one effect, refusals write no row
per request, the certificate helper's attendance rate, reminders claimed once by concurrent
cron runs, and the move notice once per event and student."""

from __future__ import annotations

import logging
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from uuid import UUID

import pytest

from shared import live
from shared.live import webhooks
from shared.platform import webhook_rejections
from shared.platform.errors import Unauthorized
from tests.helpers import run_sql
from tests.live_support import add_session, event, make_world, participant, past, signed

pytestmark = pytest.mark.usefixtures("stack")


@pytest.fixture(scope="module")
def world(gateway_url):
    return make_world(gateway_url, students=2)


def deliver(body: bytes) -> dict:
    h = signed(body)
    return live.handle_zoom_webhook(
        body=body, signature=h["x-zm-signature"], timestamp=h["x-zm-request-timestamp"]
    )


def test_concurrent_duplicates_make_one_delivery_and_one_participant_row(world, admin_db):
    s = add_session(admin_db, world, starts_at=past(30))
    body = participant(
        "joined",
        world.account_id,
        s["meeting_id"],
        at=past(20),
        device="dup-1",
        email=world.students[0].email,
    )
    answers: list[str] = []
    barrier = threading.Barrier(5)

    def one():
        barrier.wait()
        answers.append(deliver(body)["status"])

    threads = [threading.Thread(target=one) for _ in range(5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(answers) == ["applied"] + ["duplicate"] * 4
    conn = admin_db()
    assert (
        conn.run("SELECT count(*) FROM live_participant_events WHERE session_id = :s", s=s["id"])[
            0
        ][0]
        == 1
    )
    assert (
        conn.run("SELECT count(*) FROM live_webhook_deliveries WHERE session_id = :s", s=s["id"])[
            0
        ][0]
        == 1
    )


def test_refusals_are_a_log_metric_and_at_most_a_sampled_audit_row(monkeypatch, admin_db, caplog):
    clock = [1000.0]
    monkeypatch.setattr(webhook_rejections, "samplers", {})
    monkeypatch.setattr(
        webhook_rejections,
        "sampler",
        lambda provider: webhook_rejections.samplers.setdefault(
            provider, webhook_rejections.RejectionSampler(clock=lambda: clock[0])
        ),
    )
    conn = admin_db()
    before = conn.run(
        "SELECT count(*) FROM audit_log WHERE action = 'webhook.rejected' AND target_id = 'zoom'"
    )[0][0]
    caplog.set_level(logging.WARNING, logger="webhook_rejections")
    for _ in range(20):
        with pytest.raises(Unauthorized):
            live.handle_zoom_webhook(body=b"{}", signature="v0=00", timestamp=str(int(time.time())))
    counted = [r for r in caplog.records if getattr(r, "fields", {}).get("metric")]
    assert len(counted) == 20
    assert {r.fields["provider"] for r in counted} == {"zoom"}
    after = conn.run(
        "SELECT count(*) FROM audit_log WHERE action = 'webhook.rejected' AND target_id = 'zoom'"
    )[0][0]
    assert after - before == 1  # one sample for twenty refusals, not twenty rows
    clock[0] += 61
    with pytest.raises(Unauthorized):
        live.handle_zoom_webhook(body=b"{}", signature=None, timestamp=None)
    assert (
        conn.run(
            "SELECT details->>'rejected_since_last_sample' FROM audit_log"
            " WHERE action = 'webhook.rejected' AND target_id = 'zoom' ORDER BY id DESC LIMIT 1"
        )[0][0]
        == "20"
    )


def test_student_attendance_rate_counts_ended_sessions(gateway_url, admin_db):
    w = make_world(gateway_url, students=2)
    cid, bid = UUID(w.cid), UUID(w.batch_id)
    a, b = (UUID(s.id) for s in w.students)
    assert live.student_attendance_rate(cid, bid, a) is None  # nothing ended yet
    for minutes_in in (50, 10):  # two ended sessions: a attends the first only
        s = add_session(admin_db, w, starts_at=past(200 if minutes_in == 50 else 100), minutes=60)
        start = s["starts_at"]
        for body in (
            event(
                "meeting.started",
                w.account_id,
                s["meeting_id"],
                {"start_time": start.strftime("%Y-%m-%dT%H:%M:%SZ")},
            ),
            participant(
                "joined",
                w.account_id,
                s["meeting_id"],
                at=start,
                device=f"a{minutes_in}",
                email=w.students[0].email,
            ),
            participant(
                "left",
                w.account_id,
                s["meeting_id"],
                at=start + timedelta(minutes=minutes_in),
                device=f"a{minutes_in}",
                email=w.students[0].email,
            ),
            event(
                "meeting.ended",
                w.account_id,
                s["meeting_id"],
                {"end_time": (start + timedelta(minutes=60)).strftime("%Y-%m-%dT%H:%M:%SZ")},
            ),
        ):
            assert deliver(body)["status"] == "applied"
    add_session(admin_db, w, starts_at=past(-60))  # scheduled, not ended: not counted
    assert live.student_attendance_rate(cid, bid, a) == 0.5
    assert live.student_attendance_rate(cid, bid, b) == 0.0
    assert live.student_attendance_rate(cid, bid, UUID(str(uuid.uuid4()))) == 0.0
    assert live.student_attendance_rate(cid, UUID(w.other_batch_id), a) is None


def test_concurrent_cron_runs_send_each_reminder_once(gateway_url, admin_db, mail_dir):
    w = make_world(gateway_url, students=2)
    s = add_session(
        admin_db, w, starts_at=datetime.now(UTC) + timedelta(minutes=30), title="Concurrent"
    )
    results: list[dict] = []
    threads = [
        threading.Thread(target=lambda: results.append(live.send_due_reminders())) for _ in range(3)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(r["sent"] for r in results) >= 2
    rows = run_sql(
        admin_db, "SELECT user_id::text, kind FROM live_reminders WHERE session_id = :s", s=s["id"]
    )
    assert sorted(rows) == sorted([[st.id, "1h"] for st in w.students])
    for st in w.students:
        sent = [
            p
            for p in mail_dir.glob("*.eml")
            if st.email.lower() in p.read_text(errors="replace").lower()
            and "Concurrent" in p.read_text(errors="replace")
        ]
        assert len(sent) == 1


def test_a_move_notice_goes_once_per_event_and_student(gateway_url, admin_db, mail_dir):
    w = make_world(gateway_url, students=2)
    s = add_session(
        admin_db, w, starts_at=datetime.now(UTC) + timedelta(days=5), title="Moving class"
    )
    envelope = {
        "id": str(uuid.uuid4()),
        "type": "live_session.rescheduled",
        "channel_id": w.cid,
        "data": {
            "session_id": s["id"],
            "batch_id": w.batch_id,
            "was": {"starts_at": (s["starts_at"] - timedelta(days=1)).isoformat()},
        },
    }
    assert live.on_session_rescheduled(envelope=envelope, attributes={}) == "sent 2"
    assert live.on_session_rescheduled(envelope=envelope, attributes={}) == "sent 0"
    assert live.on_session_rescheduled(envelope={"type": "x"}, attributes={}) == "malformed"
    for st in w.students:
        sent = [
            p
            for p in mail_dir.glob("*.eml")
            if st.email.lower() in p.read_text(errors="replace").lower()
            and "Live class moved: Moving class" in p.read_text(errors="replace")
        ]
        assert len(sent) == 1


def test_events_without_a_meeting_or_for_unknown_meetings_are_ignored():
    for body in (
        event("meeting.started", "", "1"),
        event("meeting.started", "acc-none", "424242"),
        event("meeting.participant_joined", "acc-none", "1", {"participant": {}}),
    ):
        assert deliver(body) == {"received": True, "status": "ignored"}
    assert webhooks.PROVIDER == "zoom"
