"""Pure rules of outbound webhooks: which domain events are public and under what name, which
URLs and resolved addresses an endpoint may use (SSRF), the secret's shape, the body that is
signed, and when a failing delivery stops being retried. No I/O."""

from __future__ import annotations

import base64
import ipaddress
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

# Outbox event type -> public webhook event type. Only events the platform emits today; a new
# domain event becomes subscribable by adding its line here (and to the fan-out subscription's
# filter in shared/resources.yaml, which tests/unit/integrations checks against this table).
PUBLIC_EVENTS: dict[str, str] = {
    "enrollment.created": "enrollment.created",
    "enrollment.ended": "enrollment.ended",
    "lesson.completed": "lesson.completed",
    "course.completed": "course.completed",
    "course.published": "course.published",
    "payment.completed": "payment.succeeded",
    "payment.refunded": "payment.refunded",
    "live_session.scheduled": "live_session.scheduled",
    "live_session.rescheduled": "live_session.rescheduled",
    "live_session.cancelled": "live_session.cancelled",
    "certificate.issued": "certificate.issued",
    "member.added": "member.added",
    "member.role_changed": "member.role_changed",
    "member.removed": "member.removed",
    "post.created": "post.created",
}
EVENT_TYPES: tuple[str, ...] = tuple(sorted(set(PUBLIC_EVENTS.values())))

SECRET_PREFIX = "whsec_"
SECRET_BYTES = 32
MAX_URL_LENGTH = 2048
# Retries: Cloud Tasks backs off exponentially (queue webhook-deliveries in resources.yaml,
# 30 s doubling to 1 h); the worker gives up after RETRY_WINDOW or MAX_ATTEMPTS, whichever first.
RETRY_WINDOW = timedelta(days=3)
MAX_ATTEMPTS = 200  # a cap only: the 3-day window ends retries first (~80 attempts)
# A slow or hostile endpoint cannot hold a worker.
CONNECT_TIMEOUT_SECONDS = 5.0
READ_TIMEOUT_SECONDS = 10.0
MAX_RESPONSE_BYTES = 64 * 1024

# Addresses no endpoint may resolve to even where is_global says yes, or that is_global misses:
# cloud metadata services and the shared/benchmark ranges.
_BLOCKED_NETWORKS = tuple(
    ipaddress.ip_network(n)
    for n in (
        "169.254.0.0/16",  # link-local, incl. 169.254.169.254 (GCE/AWS metadata)
        "fd00:ec2::254/128",  # AWS IPv6 metadata
        "100.64.0.0/10",  # carrier-grade NAT
        "198.18.0.0/15",  # benchmarking
        "0.0.0.0/8",
    )
)
_BLOCKED_HOSTS = frozenset({"metadata.google.internal", "metadata", "metadata.goog"})


MAX_OVERLAP = timedelta(hours=72)  # a rotated-out secret signs at most this long


def signing_secrets(
    *, current: str, previous: str | None, previous_expires_at: datetime | None, now: datetime
) -> list[str]:
    """The secrets a delivery is signed with: the current one, and the previous one while its
    overlap window after a rotation lasts."""
    if previous and previous_expires_at is not None and now < previous_expires_at:
        return [current, previous]
    return [current]


def public_event(outbox_type: str) -> str | None:
    """The webhook event type of an outbox event, or None when it is not published."""
    return PUBLIC_EVENTS.get(outbox_type)


def unknown_events(events: list[str]) -> list[str]:
    return [e for e in events if e not in EVENT_TYPES]


def new_secret(raw: bytes) -> str:
    """`whsec_` + base64 of SECRET_BYTES random bytes (the Standard Webhooks secret format)."""
    if len(raw) != SECRET_BYTES:
        raise ValueError(f"a secret takes {SECRET_BYTES} random bytes")
    return SECRET_PREFIX + base64.b64encode(raw).decode()


def url_problem(url: str, *, local: bool) -> str | None:
    """Why `url` cannot be an endpoint, or None. https only (http too in local mode, so tests
    can receive on loopback); a host, no credentials, no fragment. Addresses are checked again
    when a delivery connects (`address_allowed`), since DNS can change after registration."""
    if len(url) > MAX_URL_LENGTH:
        return "URL too long"
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return "not a valid URL"
    schemes = ("https", "http") if local else ("https",)
    if parts.scheme not in schemes:
        return "the URL must use https"
    host = (parts.hostname or "").rstrip(".").lower()
    if not host:
        return "the URL needs a host"
    if parts.username is not None or parts.password is not None:
        return "credentials in the URL are not allowed"
    if parts.fragment:
        return "a fragment is not allowed"
    if port == 0:
        return "not a valid port"
    if host_blocked(host):
        return "this host is not allowed"
    literal = _literal_address(host)
    if literal is not None and not address_allowed(literal, local=local):
        return "this address is not allowed"
    return None


def host_blocked(host: str) -> bool:
    host = host.rstrip(".").lower()
    return host in _BLOCKED_HOSTS or host.endswith(".internal")


def address_allowed(address: str, *, local: bool) -> bool:
    """May a delivery connect to this resolved address? Only public unicast addresses; never
    private, link-local (metadata), multicast, reserved or unspecified; loopback only locally."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address):
        mapped = ip.ipv4_mapped or ip.sixtofour
        if mapped is not None:
            return address_allowed(str(mapped), local=local)
        if ip.teredo is not None:
            return False
    if any(ip in n for n in _BLOCKED_NETWORKS):
        return False
    if ip.is_loopback:
        return local
    if ip.is_multicast or ip.is_unspecified or ip.is_reserved or ip.is_link_local:
        return False
    return ip.is_global


def addresses_allowed(addresses: list[str], *, local: bool) -> bool:
    """Every record of a name must pass: one bad record and the name is refused, so a DNS
    answer cannot slip a private address in beside a public one."""
    return bool(addresses) and all(address_allowed(a, local=local) for a in addresses)


def _literal_address(host: str) -> str | None:
    try:
        return str(ipaddress.ip_address(host.strip("[]")))
    except ValueError:
        return None


def message(*, event_type: str, occurred_at: str, data: Mapping[str, Any]) -> dict[str, Any]:
    """The JSON body of a delivery, as the Standard Webhooks spec shapes it."""
    return {"type": event_type, "timestamp": occurred_at, "data": dict(data)}


def succeeded(status_code: int | None) -> bool:
    return status_code is not None and 200 <= status_code < 300


def gives_up(*, attempts: int, first_created: datetime, now: datetime) -> bool:
    """A failed attempt is final once the delivery is RETRY_WINDOW old or used MAX_ATTEMPTS."""
    return attempts >= MAX_ATTEMPTS or now - first_created >= RETRY_WINDOW


def disabled_notice(*, channel_name: str, url: str, endpoint_id: str) -> tuple[str, str]:
    """Subject and text of the mail to a channel's owners when an endpoint is disabled."""
    subject = f"Webhook endpoint disabled on {channel_name}"
    text = (
        f"Deliveries to your webhook endpoint {url} (id {endpoint_id}) on {channel_name} kept\n"
        f"failing for {RETRY_WINDOW.days} days, so the endpoint was disabled and receives no\n"
        "new events. Its delivery log shows the last status codes and errors; once the\n"
        "receiver works again, register it anew and replay the deliveries you need.\n"
    )
    return subject, text
