"""Pure rules of outbound webhooks: SSRF address and URL rules, the event map, the secret, the
retry window, and their agreement with shared/resources.yaml."""

import base64
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml

from shared.integrations import rules

ROOT = Path(__file__).resolve().parents[3]


@pytest.mark.parametrize(
    "address",
    [
        "10.0.0.1",
        "172.16.5.4",
        "192.168.1.1",
        "169.254.169.254",  # GCE / AWS metadata
        "169.254.1.1",  # link-local
        "100.64.0.1",  # carrier-grade NAT
        "0.0.0.0",
        "224.0.0.1",  # multicast
        "240.0.0.1",  # reserved
        "198.18.0.1",
        "::",
        "fe80::1",  # IPv6 link-local
        "fe80::1%eth0",
        "fc00::1",  # unique local
        "fd00:ec2::254",  # AWS IPv6 metadata
        "::ffff:10.0.0.1",  # IPv4-mapped private
        "::ffff:169.254.169.254",
        "2002:0a00:0001::1",  # 6to4 of 10.0.0.1
        "ff02::1",
        "not-an-ip",
    ],
)
def test_private_link_local_metadata_and_odd_addresses_are_refused_everywhere(address):
    assert not rules.address_allowed(address, local=False)
    assert not rules.address_allowed(address, local=True)


@pytest.mark.parametrize("address", ["127.0.0.1", "127.8.9.10", "::1", "::ffff:127.0.0.1"])
def test_loopback_only_in_local_mode(address):
    assert rules.address_allowed(address, local=True)
    assert not rules.address_allowed(address, local=False)


@pytest.mark.parametrize("address", ["8.8.8.8", "1.1.1.1", "2606:4700:4700::1111"])
def test_public_addresses_are_allowed(address):
    assert rules.address_allowed(address, local=False)


def test_one_bad_record_refuses_the_whole_name():
    assert rules.addresses_allowed(["8.8.8.8", "1.1.1.1"], local=False)
    assert not rules.addresses_allowed(["8.8.8.8", "10.0.0.1"], local=False)
    assert not rules.addresses_allowed(["169.254.169.254", "8.8.8.8"], local=True)
    assert not rules.addresses_allowed([], local=True)


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("http://hooks.example.com/x", "https"),
        ("ftp://hooks.example.com/x", "https"),
        ("https:///x", "host"),
        ("https://user:pw@hooks.example.com/x", "credentials"),
        ("https://hooks.example.com/x#frag", "fragment"),
        ("https://hooks.example.com:99999/x", "valid"),
        ("https://169.254.169.254/latest/meta-data", "address"),
        ("https://10.1.2.3/hook", "address"),
        ("https://[::1]/hook", "address"),
        ("https://127.0.0.1/hook", "address"),
        ("https://metadata.google.internal/computeMetadata/v1/", "host"),
        ("https://anything.internal/", "host"),
        ("https://hooks.example.com/" + "a" * 2100, "long"),
    ],
)
def test_urls_refused_outside_local_mode(url, why):
    problem = rules.url_problem(url, local=False)
    assert problem is not None and why in problem


def test_local_mode_allows_http_to_loopback_but_still_no_metadata():
    assert rules.url_problem("http://127.0.0.1:8123/hook", local=True) is None
    assert rules.url_problem("https://hooks.example.com/in?x=1", local=False) is None
    assert rules.url_problem("http://169.254.169.254/", local=True) == "this address is not allowed"


def test_secret_is_whsec_and_base64_of_32_bytes():
    raw = bytes(range(32))
    secret = rules.new_secret(raw)
    assert secret.startswith("whsec_")
    assert base64.b64decode(secret.removeprefix("whsec_")) == raw
    with pytest.raises(ValueError):
        rules.new_secret(b"short")


def test_public_event_names_map_from_outbox_types():
    assert rules.public_event("payment.completed") == "payment.succeeded"
    assert rules.public_event("enrollment.created") == "enrollment.created"
    assert rules.public_event("media.released") is None
    assert rules.public_event("webhook_endpoint.created") is None
    assert rules.unknown_events(["enrollment.created", "nope", "payment.completed"]) == [
        "nope",
        "payment.completed",
    ]


def test_gives_up_after_three_days_or_the_attempt_cap():
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    assert not rules.gives_up(attempts=5, first_created=t0, now=t0 + timedelta(days=2))
    assert rules.gives_up(attempts=5, first_created=t0, now=t0 + timedelta(days=3))
    assert rules.gives_up(attempts=rules.MAX_ATTEMPTS, first_created=t0, now=t0)
    assert rules.succeeded(204) and not rules.succeeded(301) and not rules.succeeded(None)


def test_message_shape_follows_standard_webhooks():
    body = rules.message(event_type="a.b", occurred_at="2026-01-01T00:00:00Z", data={"k": 1})
    assert body == {"type": "a.b", "timestamp": "2026-01-01T00:00:00Z", "data": {"k": 1}}


@pytest.fixture(scope="module")
def resources():
    return yaml.safe_load((ROOT / "shared" / "resources.yaml").read_text())


def test_fanout_subscription_filters_exactly_the_public_outbox_types(resources):
    sub = next(s for s in resources["subscriptions"] if s["name"] == "webhook-fanout")
    assert sub["push_function"] == "webhook_fanout" and sub["topic"] == "domain-events"
    filtered = set(re.findall(r'attributes\.event_type = "([^"]+)"', sub["filter"]))
    assert filtered == set(rules.PUBLIC_EVENTS)


def _seconds(duration: str) -> int:
    assert duration.endswith("s")
    return int(duration[:-1])


def test_delivery_queue_retries_for_about_three_days_past_the_workers_window(resources):
    queue = next(q for q in resources["queues"] if q["name"] == "webhook-deliveries")
    window = rules.RETRY_WINDOW.total_seconds()
    assert window < _seconds(queue["max_retry_duration"]) <= window + 6 * 3600
    # the last attempt lands within one max backoff past the window
    assert _seconds(queue["max_backoff"]) < _seconds(queue["max_retry_duration"]) - window
    assert queue["max_attempts"] == -1  # bounded by the duration, not a count
    worker = next(f for f in resources["functions"] if f["name"] == "webhook_delivery")
    assert worker["trigger"] == "task" and worker["queue"] == "webhook-deliveries"


def test_a_rotated_out_secret_signs_only_during_its_overlap_window():
    now = datetime(2026, 1, 1, tzinfo=UTC)
    later = now + timedelta(hours=1)
    both = rules.signing_secrets(current="new", previous="old", previous_expires_at=later, now=now)
    assert both == ["new", "old"]
    assert rules.signing_secrets(
        current="new", previous="old", previous_expires_at=later, now=later
    ) == ["new"]
    assert rules.signing_secrets(
        current="new", previous=None, previous_expires_at=None, now=now
    ) == ["new"]


def test_the_disabled_notice_names_the_channel_url_and_endpoint():
    subject, text = rules.disabled_notice(
        channel_name="Pottery", url="https://h.example/in", endpoint_id="e-1"
    )
    assert "Pottery" in subject and "https://h.example/in" in text and "e-1" in text
    assert "3 days" in text
