"""Outbound webhooks over the local stack: an owner registers an endpoint on a receiver on
127.0.0.1, a student enrolls (outbox enrollment.created -> Pub/Sub emulator -> push through the
gateway's subscription filter -> webhook_fanout -> Cloud Tasks emulator -> webhook_delivery),
the receiver verifies the signature with the Standard Webhooks library; then the delivery log,
a replay, and deleting the endpoint, all over HTTP."""

import pytest
import requests
from standardwebhooks.webhooks import Webhook

from tests.factories import make_course
from tests.helpers import assert_problem, eventually, make_channel, member_of, signup
from tests.helpers import channel_url as api
from tests.integration.integrations.receiver import start_receiver

pytestmark = pytest.mark.e2e


@pytest.fixture
def receiver():
    rec = start_receiver()
    yield rec
    rec.stop()


@pytest.fixture
def admin(admin_db):
    conn = admin_db()
    yield conn
    conn.close()


@pytest.fixture
def school(gateway_url, admin):
    owner = signup(gateway_url)
    ch = make_channel(gateway_url, owner)
    course = make_course(admin, ch["id"], owner.id, lessons=(("text", None),))
    return {"owner": owner, "cid": ch["id"], "course": course["id"]}


def endpoints(gw, s, suffix=""):
    return api(gw, s["cid"], "/webhook-endpoints" + suffix)


def test_enrollment_reaches_the_receiver_signed_then_log_replay_delete(
    gateway_url, school, receiver
):
    s, owner = school, school["owner"]
    r = requests.post(
        endpoints(gateway_url, s),
        json={"url": receiver.url("/hooks"), "events": ["enrollment.created"]},
        headers=owner.headers,
        timeout=10,
    )
    assert r.status_code == 201, r.text
    ep = r.json()
    assert ep["secret"].startswith("whsec_") and ep["events"] == ["enrollment.created"]

    student = signup(gateway_url)
    enrolled = requests.post(
        api(gateway_url, s["cid"], f"/courses/{s['course']}/enroll"),
        headers=student.headers,
        timeout=10,
    )
    assert enrolled.status_code == 201, enrolled.text

    (got,) = eventually(lambda: receiver.on("/hooks"), timeout=30, what="a delivery")
    message = Webhook(ep["secret"]).verify(got.body, got.headers)
    assert message["type"] == "enrollment.created"
    assert message["data"]["enrollment_id"] == enrolled.json()["id"]
    assert message["data"]["user_id"] == student.id

    def log():
        r = requests.get(
            endpoints(gateway_url, s, f"/{ep['id']}/deliveries"), headers=owner.headers, timeout=10
        )
        assert r.status_code == 200, r.text
        return r.json()["items"]

    (d,) = eventually(log, until=lambda items: items and items[0]["status"] == "succeeded")
    assert d["last_status_code"] == 200 and d["attempts"] == 1 and d["last_latency_ms"] >= 0
    assert d["event_type"] == "enrollment.created"

    r = requests.post(
        api(gateway_url, s["cid"], f"/webhook-deliveries/{d['id']}/replay"),
        headers=owner.headers,
        timeout=10,
    )
    assert r.status_code == 202 and r.json() == {"id": d["id"], "status": "pending"}, r.text
    first, again = eventually(
        lambda: receiver.on("/hooks"), until=lambda g: len(g) == 2, timeout=30
    )
    assert again.headers["webhook-id"] == first.headers["webhook-id"]
    assert Webhook(ep["secret"]).verify(again.body, again.headers) == message
    (d,) = eventually(log, until=lambda items: items[0]["attempts"] == 2)

    listed = requests.get(endpoints(gateway_url, s), headers=owner.headers, timeout=10)
    assert [e["id"] for e in listed.json()["items"]] == [ep["id"]]
    assert "secret" not in listed.json()["items"][0]
    r = requests.delete(
        endpoints(gateway_url, s, f"/{ep['id']}"), headers=owner.headers, timeout=10
    )
    assert r.status_code == 204, r.text
    assert_problem(
        requests.get(
            endpoints(gateway_url, s, f"/{ep['id']}/deliveries"), headers=owner.headers, timeout=10
        ),
        404,
    )


def test_registration_refuses_bad_input_roles_and_other_channels(gateway_url, school, receiver):
    s, owner = school, school["owner"]
    url = endpoints(gateway_url, s)
    for body in (
        {"url": "http://169.254.169.254/latest/meta-data/", "events": ["enrollment.created"]},
        {"url": "https://10.0.0.1/hook", "events": ["enrollment.created"]},
        {"url": receiver.url("/x"), "events": ["no.such.event"]},
        {"url": receiver.url("/x"), "events": []},
        {"url": receiver.url("/x"), "events": ["enrollment.created"], "secret": "mine"},
    ):
        assert_problem(requests.post(url, json=body, headers=owner.headers, timeout=10), 422)
    instructor = member_of(gateway_url, s["cid"], owner, "instructor")
    good = {"url": receiver.url("/x"), "events": ["payment.succeeded"]}
    assert_problem(requests.post(url, json=good, headers=instructor.headers, timeout=10), 403)
    assert_problem(requests.get(url, headers=instructor.headers, timeout=10), 403)
    assert_problem(requests.post(url, json=good, timeout=10), 401)
    stranger = signup(gateway_url)
    assert_problem(requests.get(url, headers=stranger.headers, timeout=10), 404)
    assert_problem(
        requests.post(
            api(gateway_url, s["cid"], "/webhook-deliveries/not-an-id/replay"),
            headers=owner.headers,
            timeout=10,
        ),
        404,
    )


def test_a_500_is_retried_by_cloud_tasks_until_delivered(gateway_url, school, receiver):
    s, owner = school, school["owner"]
    receiver.statuses["/flaky"] = [500]
    r = requests.post(
        endpoints(gateway_url, s),
        json={"url": receiver.url("/flaky"), "events": ["enrollment.created"]},
        headers=owner.headers,
        timeout=10,
    )
    assert r.status_code == 201, r.text
    ep = r.json()
    student = signup(gateway_url)
    enrolled = requests.post(
        api(gateway_url, s["cid"], f"/courses/{s['course']}/enroll"),
        headers=student.headers,
        timeout=10,
    )
    assert enrolled.status_code == 201, enrolled.text
    first, retry = eventually(
        lambda: receiver.on("/flaky"), until=lambda got: len(got) >= 2, timeout=60
    )
    assert first.headers["webhook-id"] == retry.headers["webhook-id"]
    Webhook(ep["secret"]).verify(retry.body, retry.headers)

    def log():
        r = requests.get(
            endpoints(gateway_url, s, f"/{ep['id']}/deliveries"), headers=owner.headers, timeout=10
        )
        return r.json()["items"]

    (d,) = eventually(log, until=lambda items: items and items[0]["status"] == "succeeded")
    assert d["attempts"] == 2 and d["last_status_code"] == 200 and d["last_error"] is None


def test_rotate_secret_answers_a_new_secret_once(gateway_url, school, receiver):
    s, owner = school, school["owner"]
    made = requests.post(
        endpoints(gateway_url, s),
        json={"url": receiver.url("/r"), "events": ["payment.succeeded"]},
        headers=owner.headers,
        timeout=10,
    ).json()
    url = endpoints(gateway_url, s, f"/{made['id']}/rotate-secret")
    r = requests.post(url, json={"overlap_hours": 2}, headers=owner.headers, timeout=10)
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["id"] == made["id"] and out["secret"].startswith("whsec_")
    assert out["secret"] != made["secret"] and out["previous_secret_expires_at"]
    assert_problem(
        requests.post(url, json={"overlap_hours": 73}, headers=owner.headers, timeout=10), 422
    )
    r = requests.post(url, headers=owner.headers, timeout=10)  # no body: the default overlap
    assert r.status_code == 200, r.text
    listed = requests.get(endpoints(gateway_url, s), headers=owner.headers, timeout=10).text
    assert out["secret"] not in listed and r.json()["secret"] not in listed


def test_another_channels_owner_gets_404_on_every_route(gateway_url, school, receiver):
    s, owner = school, school["owner"]
    ep = requests.post(
        endpoints(gateway_url, s),
        json={"url": receiver.url("/t"), "events": ["enrollment.created"]},
        headers=owner.headers,
        timeout=10,
    ).json()
    other = signup(gateway_url)
    b = make_channel(gateway_url, other)
    fake_delivery = "00000000-0000-7000-8000-000000000000"
    for cid in (s["cid"], b["id"]):  # A's ids through A's path, and through B's own path
        base = api(gateway_url, cid)
        calls = [
            ("get", f"{base}/webhook-endpoints"),
            ("post", f"{base}/webhook-endpoints/{ep['id']}/rotate-secret"),
            ("get", f"{base}/webhook-endpoints/{ep['id']}/deliveries"),
            ("delete", f"{base}/webhook-endpoints/{ep['id']}"),
            ("post", f"{base}/webhook-deliveries/{fake_delivery}/replay"),
        ]
        if cid == b["id"]:  # B lists its own endpoints: none of A's
            listed = requests.get(calls.pop(0)[1], headers=other.headers, timeout=10)
            assert listed.status_code == 200 and listed.json()["items"] == []
        for method, url in calls:
            assert_problem(requests.request(method, url, headers=other.headers, timeout=10), 404)
    mine = requests.get(endpoints(gateway_url, s), headers=owner.headers, timeout=10).json()
    assert [e["id"] for e in mine["items"]] == [ep["id"]]  # nothing B did touched it
