"""Outbound webhooks against real Postgres, with a receiver on loopback: endpoint rules and
tenancy, idempotent fan-out, signed deliveries verified with the Standard Webhooks library,
retries after 500s and timeouts, refused addresses, giving up (endpoint disabled) and replay.

The use cases run in process; Cloud Tasks is the one edge replaced (by a recorder of what would
be queued), so each attempt runs exactly when the test says. tests/e2e/test_webhooks.py drives
the same path through Pub/Sub, Cloud Tasks and the gateway.
"""

import json
import uuid

import pytest
from standardwebhooks.webhooks import Webhook

from shared import integrations
from shared.adapters import tasks
from shared.integrations import delivery as worker
from shared.integrations import fanout, rules
from shared.integrations.schemas import WebhookEndpointIn, WebhookSecretRotateIn
from shared.platform.errors import Conflict, Forbidden, NotFound, Unprocessable
from tests.factories import new_channel, new_user
from tests.integration.integrations.receiver import start_receiver

pytestmark = pytest.mark.usefixtures("stack")


@pytest.fixture
def receiver():
    rec = start_receiver()
    yield rec
    rec.stop()


@pytest.fixture
def queued(monkeypatch):
    calls = []

    def record(**kw):
        calls.append(kw)
        return True

    monkeypatch.setattr(tasks, "enqueue", record)
    return calls


@pytest.fixture
def db(admin_db):
    conn = admin_db(role="superuser")

    def run(sql, **params):
        return conn.run(sql, **params)

    return run


@pytest.fixture
def ch():
    owner = new_user("Owner")
    return {"owner": owner, "cid": new_channel(owner)}


def register(ch, url, events=("enrollment.created",)):
    return integrations.create_endpoint(
        channel_id=ch["cid"],
        user_id=ch["owner"],
        data=WebhookEndpointIn(url=url, events=list(events)),
    )


def event(ch, outbox_type="enrollment.created", **data):
    return {
        "id": str(uuid.uuid4()),
        "type": outbox_type,
        "channel_id": ch["cid"],
        "occurred_at": "2026-11-30T00:00:00Z",
        "data": data or {"enrollment_id": "e1", "user_id": "u1"},
    }


def deliveries(db, endpoint_id):
    rows = db(
        "SELECT id, status, attempts, last_status_code, last_latency_ms, last_error"
        " FROM webhook_deliveries WHERE endpoint_id = :e ORDER BY id",
        e=endpoint_id,
    )
    keys = ("id", "status", "attempts", "code", "latency", "error")
    return [dict(zip(keys, [str(r[0]), *r[1:]], strict=True)) for r in rows]


def test_create_answers_the_secret_once_and_lists_never_show_it(ch, receiver):
    made = register(ch, receiver.url("/in"), ["payment.succeeded", "enrollment.created"])
    assert made["secret"].startswith("whsec_") and made["status"] == "enabled"
    assert made["events"] == ["payment.succeeded", "enrollment.created"]
    listed = integrations.list_endpoints(
        channel_id=ch["cid"], user_id=ch["owner"], limit=20, cursor=None
    )
    assert [e["id"] for e in listed["items"]] == [made["id"]]
    assert "secret" not in listed["items"][0] and made["secret"] not in json.dumps(listed)


def test_only_owners_and_admins_and_only_of_their_channel(ch, db, receiver):
    student = new_user("S")
    db(
        "INSERT INTO memberships (channel_id, user_id, role) VALUES (:c, :u, 'student')",
        c=ch["cid"],
        u=student,
    )
    with pytest.raises(Forbidden):
        register({**ch, "owner": student}, receiver.url("/in"))
    other = {"owner": ch["owner"], "cid": new_channel(new_user("Other"))}
    with pytest.raises(NotFound):
        register(other, receiver.url("/in"))
    mine = register(ch, receiver.url("/in"))
    stranger = new_user("X")
    with pytest.raises(NotFound):
        integrations.list_deliveries(
            channel_id=new_channel(stranger),
            user_id=stranger,
            endpoint_id=mine["id"],
            limit=5,
            cursor=None,
        )


@pytest.mark.parametrize(
    "url", ["http://169.254.169.254/latest/meta-data/", "https://10.0.0.8/x", "ftp://a.example/"]
)
def test_refused_urls_are_422(ch, url):
    with pytest.raises(Unprocessable):
        register(ch, url)


def test_fan_out_is_one_delivery_per_wanting_endpoint_and_idempotent(ch, db, queued, receiver):
    wants = register(ch, receiver.url("/a"), ["enrollment.created"])
    other = register(ch, receiver.url("/b"), ["payment.succeeded"])
    ev = event(ch)
    assert integrations.on_domain_event(envelope=ev, attributes={"channel_id": ch["cid"]}) == 1
    assert integrations.on_domain_event(envelope=ev, attributes={"channel_id": ch["cid"]}) == 1
    (d,) = deliveries(db, wants["id"])
    assert deliveries(db, other["id"]) == []
    # the redelivered event queued the same task name again: Cloud Tasks refuses the duplicate
    assert [q["task_id"] for q in queued] == [f"whd-{d['id']}-0"] * 2
    assert queued[0]["payload"] == {"channel_id": ch["cid"], "delivery_id": d["id"]}
    assert queued[0]["queue"] == "webhook-deliveries"


def test_outbox_names_map_to_public_names_and_others_are_ignored(ch, db, queued, receiver):
    ep = register(ch, receiver.url("/p"), ["payment.succeeded"])
    paid = event(ch, "payment.completed", payment_id="p1")
    assert integrations.on_domain_event(envelope=paid, attributes={}) == 1
    assert integrations.on_domain_event(envelope=event(ch, "media.released"), attributes={}) == 0
    assert integrations.on_domain_event(envelope=None, attributes={}) == 0
    assert integrations.on_domain_event(envelope=paid, attributes={"channel_id": "x"}) == 0
    (d,) = deliveries(db, ep["id"])
    assert integrations.deliver(channel_id=ch["cid"], delivery_id=d["id"]) == "delivered"
    body = json.loads(receiver.on("/p")[0].body)
    assert body["type"] == "payment.succeeded" and body["data"] == {"payment_id": "p1"}


def test_a_delivery_is_signed_per_standard_webhooks_and_recorded(ch, db, queued, receiver):
    ep = register(ch, receiver.url("/in"))
    integrations.on_domain_event(envelope=event(ch), attributes={})
    (d,) = deliveries(db, ep["id"])
    assert integrations.deliver(channel_id=ch["cid"], delivery_id=d["id"]) == "delivered"
    (got,) = receiver.on("/in")
    verified = Webhook(ep["secret"]).verify(got.body, got.headers)
    assert verified["type"] == "enrollment.created" and verified["data"]["enrollment_id"] == "e1"
    assert got.headers["webhook-id"] == f"msg_{d['id']}"
    with pytest.raises(Exception, match="signature"):
        Webhook(rules.new_secret(bytes(32))).verify(got.body, got.headers)
    (after,) = deliveries(db, ep["id"])
    assert after["status"] == "succeeded" and after["attempts"] == 1 and after["code"] == 200
    assert after["latency"] is not None and after["latency"] >= 0
    # a second task for a delivered delivery sends nothing
    assert integrations.deliver(channel_id=ch["cid"], delivery_id=d["id"]) == "skipped"
    assert len(receiver.on("/in")) == 1


def test_500_then_timeout_are_retried_then_delivered(ch, db, queued, receiver, monkeypatch):
    monkeypatch.setattr(rules, "READ_TIMEOUT_SECONDS", 0.3)
    ep = register(ch, receiver.url("/flaky"))
    integrations.on_domain_event(envelope=event(ch), attributes={})
    (d,) = deliveries(db, ep["id"])
    receiver.statuses["/flaky"] = [500]
    with pytest.raises(integrations.DeliveryFailed):
        integrations.deliver(channel_id=ch["cid"], delivery_id=d["id"])
    (first,) = deliveries(db, ep["id"])
    assert (first["status"], first["attempts"], first["code"]) == ("pending", 1, 500)
    receiver.hang.add("/flaky")
    with pytest.raises(integrations.DeliveryFailed):
        integrations.deliver(channel_id=ch["cid"], delivery_id=d["id"])
    (second,) = deliveries(db, ep["id"])
    assert second["attempts"] == 2 and second["code"] is None
    assert "timeout" in second["error"].lower()
    receiver.hang.clear()
    assert integrations.deliver(channel_id=ch["cid"], delivery_id=d["id"]) == "delivered"
    ids = {r.headers["webhook-id"] for r in receiver.on("/flaky")}
    assert ids == {f"msg_{d['id']}"}  # one message id across retries: receivers deduplicate


def test_an_address_that_became_private_is_refused_at_connect_time(ch, db, queued, receiver):
    ep = register(ch, receiver.url("/in"))
    integrations.on_domain_event(envelope=event(ch), attributes={})
    (d,) = deliveries(db, ep["id"])
    db("UPDATE webhook_endpoints SET url = 'http://10.1.2.3/in' WHERE id = :e", e=ep["id"])
    with pytest.raises(integrations.DeliveryFailed):
        integrations.deliver(channel_id=ch["cid"], delivery_id=d["id"])
    (after,) = deliveries(db, ep["id"])
    assert "refused" in after["error"] and after["code"] is None
    db(
        "UPDATE webhook_endpoints SET url = 'http://metadata.google.internal/' WHERE id = :e",
        e=ep["id"],
    )
    with pytest.raises(integrations.DeliveryFailed):
        integrations.deliver(channel_id=ch["cid"], delivery_id=d["id"])
    assert receiver.received == []


def test_after_three_days_of_failure_it_gives_up_and_disables_the_endpoint(
    ch, db, queued, receiver, wait_for_mail
):
    ep = register(ch, receiver.url("/down"))
    integrations.on_domain_event(envelope=event(ch), attributes={})
    (d,) = deliveries(db, ep["id"])
    db(
        "UPDATE webhook_deliveries SET created_at = now() - interval '3 days 1 minute'"
        " WHERE id = :d",
        d=d["id"],
    )
    receiver.statuses["/down"] = [503]
    assert integrations.deliver(channel_id=ch["cid"], delivery_id=d["id"]) == worker.Outcome.GAVE_UP
    (after,) = deliveries(db, ep["id"])
    assert after["status"] == "failed" and after["code"] == 503
    listed = integrations.list_endpoints(
        channel_id=ch["cid"], user_id=ch["owner"], limit=20, cursor=None
    )
    assert listed["items"][0]["status"] == "disabled" and listed["items"][0]["disabled_reason"]
    owner_email = db("SELECT email FROM users WHERE id = :u", u=ch["owner"])[0][0]
    mail = wait_for_mail(owner_email, subject="Webhook endpoint disabled")
    assert receiver.url("/down") in mail.get_content() and ep["id"] in mail.get_content()
    # a disabled endpoint gets no new deliveries and cannot be replayed to
    assert integrations.on_domain_event(envelope=event(ch), attributes={}) == 0
    with pytest.raises(Conflict):
        integrations.replay_delivery(channel_id=ch["cid"], user_id=ch["owner"], delivery_id=d["id"])


def test_replay_sends_the_same_message_again_as_a_new_task(ch, db, queued, receiver):
    ep = register(ch, receiver.url("/in"))
    integrations.on_domain_event(envelope=event(ch), attributes={})
    (d,) = deliveries(db, ep["id"])
    integrations.deliver(channel_id=ch["cid"], delivery_id=d["id"])
    out = integrations.replay_delivery(
        channel_id=ch["cid"], user_id=ch["owner"], delivery_id=d["id"]
    )
    assert out == {"id": d["id"], "status": "pending"}
    assert queued[-1]["task_id"] == f"whd-{d['id']}-1"
    assert integrations.deliver(channel_id=ch["cid"], delivery_id=d["id"]) == "delivered"
    first, second = receiver.on("/in")
    assert first.body == second.body and first.headers["webhook-id"] == second.headers["webhook-id"]
    log = integrations.list_deliveries(
        channel_id=ch["cid"], user_id=ch["owner"], endpoint_id=ep["id"], limit=20, cursor=None
    )
    (item,) = log["items"]
    assert item["attempts"] == 2 and item["status"] == "succeeded"
    with pytest.raises(NotFound):
        integrations.replay_delivery(
            channel_id=ch["cid"], user_id=ch["owner"], delivery_id=str(uuid.uuid4())
        )


def test_delete_removes_the_endpoint_and_its_log(ch, db, queued, receiver):
    ep = register(ch, receiver.url("/in"))
    integrations.on_domain_event(envelope=event(ch), attributes={})
    (d,) = deliveries(db, ep["id"])
    integrations.delete_endpoint(channel_id=ch["cid"], user_id=ch["owner"], endpoint_id=ep["id"])
    assert deliveries(db, ep["id"]) == []
    assert integrations.deliver(channel_id=ch["cid"], delivery_id=d["id"]) == "skipped"
    with pytest.raises(NotFound):
        integrations.delete_endpoint(
            channel_id=ch["cid"], user_id=ch["owner"], endpoint_id=ep["id"]
        )


def test_delivery_log_pages_newest_first(ch, db, queued, receiver):
    ep = register(ch, receiver.url("/in"))
    for _ in range(3):
        integrations.on_domain_event(envelope=event(ch), attributes={})
    first = integrations.list_deliveries(
        channel_id=ch["cid"], user_id=ch["owner"], endpoint_id=ep["id"], limit=2, cursor=None
    )
    rest = integrations.list_deliveries(
        channel_id=ch["cid"],
        user_id=ch["owner"],
        endpoint_id=ep["id"],
        limit=2,
        cursor=first["next_cursor"],
    )
    ids = [d["id"] for d in first["items"] + rest["items"]]
    assert len(ids) == 3 and ids == sorted(ids, reverse=True) and rest["next_cursor"] is None
    assert fanout.QUEUE == "webhook-deliveries"


def test_rotation_signs_with_both_secrets_during_the_overlap_only(ch, db, queued, receiver):
    ep = register(ch, receiver.url("/rot"))
    rotated = integrations.rotate_secret(
        channel_id=ch["cid"],
        user_id=ch["owner"],
        endpoint_id=ep["id"],
        data=WebhookSecretRotateIn(overlap_hours=24),
    )
    assert rotated["secret"] != ep["secret"] and rotated["previous_secret_expires_at"]
    integrations.on_domain_event(envelope=event(ch), attributes={})
    (d,) = deliveries(db, ep["id"])
    integrations.deliver(channel_id=ch["cid"], delivery_id=d["id"])
    (got,) = receiver.on("/rot")
    assert len(got.headers["webhook-signature"].split(" ")) == 2
    Webhook(rotated["secret"]).verify(got.body, got.headers)
    Webhook(ep["secret"]).verify(got.body, got.headers)  # receivers not yet switched

    again = integrations.rotate_secret(
        channel_id=ch["cid"],
        user_id=ch["owner"],
        endpoint_id=ep["id"],
        data=WebhookSecretRotateIn(overlap_hours=0),
    )
    assert again["previous_secret_expires_at"] is None
    integrations.replay_delivery(channel_id=ch["cid"], user_id=ch["owner"], delivery_id=d["id"])
    integrations.deliver(channel_id=ch["cid"], delivery_id=d["id"])
    latest = receiver.on("/rot")[-1]
    Webhook(again["secret"]).verify(latest.body, latest.headers)
    for stale in (ep["secret"], rotated["secret"]):
        with pytest.raises(Exception, match="signature"):
            Webhook(stale).verify(latest.body, latest.headers)
    secret_in_audit = db(
        "SELECT count(*) FROM audit_log WHERE channel_id = :c AND details::text LIKE :s",
        c=ch["cid"],
        s=f"%{again['secret'][6:20]}%",
    )
    assert secret_in_audit == [[0]]


def test_a_mail_relay_outage_rolls_the_disable_back_to_be_retried(
    ch, db, queued, receiver, monkeypatch
):
    from shared.adapters import email

    ep = register(ch, receiver.url("/gone"))
    integrations.on_domain_event(envelope=event(ch), attributes={})
    (d,) = deliveries(db, ep["id"])
    db(
        "UPDATE webhook_deliveries SET created_at = now() - interval '4 days' WHERE id = :d",
        d=d["id"],
    )
    receiver.statuses["/gone"] = [500]

    def relay_down(**kw):
        raise OSError("relay down")

    monkeypatch.setattr(email, "send", relay_down)
    with pytest.raises(OSError):
        integrations.deliver(channel_id=ch["cid"], delivery_id=d["id"])
    (after,) = deliveries(db, ep["id"])
    assert after["status"] == "pending" and after["attempts"] == 0
    status = db("SELECT status FROM webhook_endpoints WHERE id = :e", e=ep["id"])
    assert status == [["enabled"]]


def test_certificates_and_membership_changes_are_published(ch, db, queued, receiver):
    ep = register(ch, receiver.url("/c"), ["certificate.issued", "member.added"])
    for outbox_type in ("certificate.issued", "member.added", "member.removed"):
        integrations.on_domain_event(envelope=event(ch, outbox_type, user_id="u"), attributes={})
    got = db(
        "SELECT event_type FROM webhook_deliveries WHERE endpoint_id = :e ORDER BY event_type",
        e=ep["id"],
    )
    assert got == [["certificate.issued"], ["member.added"]]
