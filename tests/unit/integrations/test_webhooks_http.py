"""The outbound client against a real receiver on loopback: every resolved address goes
through the caller's predicate before any connection, redirects are not followed, answers are
capped, and a silent endpoint is cut off by the read timeout."""

from functools import partial

import pytest

from shared.adapters import webhooks_http
from shared.integrations import rules
from tests.integration.integrations.receiver import start_receiver

LOCAL = partial(rules.addresses_allowed, local=True)


@pytest.fixture
def receiver():
    rec = start_receiver()
    yield rec
    rec.stop()


def post(url, *, allow=LOCAL, read_timeout=5.0, max_bytes=1024):
    return webhooks_http.post(
        url,
        b'{"a":1}',
        {"Content-Type": "application/json", "webhook-id": "msg_1"},
        allow=allow,
        connect_timeout=2.0,
        read_timeout=read_timeout,
        max_bytes=max_bytes,
    )


def test_posts_the_body_and_headers_and_measures_latency(receiver):
    receiver.statuses["/in?x=1"] = [202]
    answer = post(receiver.url("/in?x=1"))
    assert answer.status_code == 202 and answer.error is None and answer.latency_ms >= 0
    (got,) = receiver.on("/in?x=1")
    assert got.body == b'{"a":1}' and got.headers["webhook-id"] == "msg_1"


def test_the_predicate_sees_every_address_and_a_refusal_sends_nothing(receiver):
    seen = []

    def refuse(addresses):
        seen.extend(addresses)
        return False

    answer = post(receiver.url("/in"), allow=refuse)
    assert answer.status_code is None and "refused" in (answer.error or "")
    assert seen == ["127.0.0.1"] and receiver.received == []


def test_a_name_resolving_to_loopback_is_refused_outside_local_mode(receiver):
    url = receiver.url("/in").replace("127.0.0.1", "localhost")
    answer = post(url, allow=partial(rules.addresses_allowed, local=False))
    assert answer.status_code is None and receiver.received == []


def test_a_redirect_is_answered_not_followed(receiver):
    receiver.redirects["/in"] = "http://169.254.169.254/latest/meta-data/"
    receiver.redirects["/hop"] = receiver.url("/other")
    assert post(receiver.url("/in")).status_code == 307
    assert post(receiver.url("/hop")).status_code == 307
    assert [r.path for r in receiver.received] == ["/in", "/hop"]
    assert not rules.succeeded(307)


def test_the_answer_is_read_only_up_to_the_cap(receiver):
    receiver.big.add("/big")
    answer = post(receiver.url("/big"), max_bytes=100)
    assert answer.status_code == 200 and len(answer.body) == 100


def test_an_endpoint_that_never_answers_is_cut_off_by_the_read_timeout(receiver):
    receiver.hang.add("/slow")
    answer = post(receiver.url("/slow"), read_timeout=0.3)
    assert answer.status_code is None and "timeout" in (answer.error or "").lower()
    assert answer.latency_ms < 5000


def test_an_unresolvable_host_is_an_answer_not_an_exception():
    answer = post("https://no-such-host.invalid/hook")
    assert answer.status_code is None and "resolve" in (answer.error or "")


def test_an_endpoint_trickling_its_answer_is_cut_off_by_the_overall_deadline(receiver):
    receiver.trickle.add("/drip")
    answer = post(receiver.url("/drip"), read_timeout=0.3, max_bytes=10_000)
    assert answer.status_code is None and "timeout" in (answer.error or "")
    assert answer.latency_ms < 5000  # the whole answer would take 10 s


def test_a_name_with_one_private_record_among_public_ones_is_refused(receiver, monkeypatch):
    monkeypatch.setattr(webhooks_http, "resolve", lambda host, port: ["127.0.0.1", "10.0.0.5"])
    answer = post(receiver.url("/in").replace("127.0.0.1", "hooks.example.com"))
    assert answer.status_code is None and "refused" in (answer.error or "")
    assert receiver.received == []
