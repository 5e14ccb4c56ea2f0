"""Issue 16: the client address per-IP limits key on (item 2), the security headers of every
response (item 12), and a lost database connection answering 503, never 500 (item 14)."""

from __future__ import annotations

import pg8000.native
import pytest
from flask import Request, Response
from werkzeug.test import EnvironBuilder

from shared.platform import db
from shared.platform.config import settings
from shared.web.api import HSTS, SECURITY_HEADERS, Api, Ctx, client_address

api = Api("security_test", tag="Test")
seen: dict[str, str] = {}


@api.route("GET", "/v1/ip", auth="none")
def who(ctx: Ctx):
    seen["ip"] = ctx.client_ip
    return {"ip": ctx.client_ip}


@api.route("GET", "/v1/page", auth="none")
def page(ctx: Ctx):
    return Response("<p>hi</p>", headers={"Content-Security-Policy": "default-src 'none'"})


@api.route("GET", "/v1/db-gone", auth="none")
def db_gone(ctx: Ctx):
    try:
        raise pg8000.native.InterfaceError("network error")
    except pg8000.native.InterfaceError as e:
        raise RuntimeError("the use case gave up") from e


@api.route("GET", "/v1/db-terminated", auth="none")
def db_terminated(ctx: Ctx):
    raise pg8000.native.DatabaseError({"S": "FATAL", "C": "57P01", "M": "terminating"})


@api.route("GET", "/v1/db-bug", auth="none")
def db_bug(ctx: Ctx):
    raise pg8000.native.InterfaceError("The parameter x can't be of type <class 'object'>.")


def call(path: str, *, peer: str = "10.9.8.7", headers: dict | list | None = None) -> Response:
    env = EnvironBuilder(path=path, headers=headers, environ_base={"REMOTE_ADDR": peer})
    return api(Request(env.get_environ()))


@pytest.fixture
def hops(monkeypatch):
    def set_hops(n: int) -> None:
        monkeypatch.setenv("TRUSTED_PROXY_HOPS", str(n))
        settings.cache_clear()

    yield set_hops
    monkeypatch.delenv("TRUSTED_PROXY_HOPS", raising=False)
    settings.cache_clear()


# --- item 2: client address ----------------------------------------------------------------------


def test_behind_the_load_balancer_the_client_is_left_of_the_forwarding_rule_ip():
    # Google: "<unverified, client-written>, <client IP>, <forwarding-rule IP>"
    r = call("/v1/ip", headers={"X-Forwarded-For": "6.6.6.6, 203.0.113.7, 34.120.1.2"})
    assert r.json == {"ip": "203.0.113.7"}


def test_a_client_cannot_choose_its_address_by_writing_the_header():
    """The first entry is whatever the client wrote: rotating it must not rotate the key."""
    headers = [{"X-Forwarded-For": f"198.51.100.{i}, 203.0.113.7, 34.120.1.2"} for i in range(5)]
    ips = {call("/v1/ip", headers=h).json["ip"] for h in headers}
    assert ips == {"203.0.113.7"}


def test_several_header_lines_read_as_one_list():
    r = call(
        "/v1/ip",
        headers=[("X-Forwarded-For", "6.6.6.6"), ("X-Forwarded-For", "203.0.113.7, 34.120.1.2")],
    )
    assert r.json == {"ip": "203.0.113.7"}


def test_without_a_proxy_the_socket_peer_is_the_client(hops):
    hops(0)
    r = call("/v1/ip", peer="192.0.2.44", headers={"X-Forwarded-For": "6.6.6.6, 7.7.7.7"})
    assert r.json == {"ip": "192.0.2.44"}


def test_more_trusted_hops_look_further_left(hops):
    hops(2)
    r = call("/v1/ip", headers={"X-Forwarded-For": "6.6.6.6, 203.0.113.7, 34.120.1.2, 10.0.0.3"})
    assert r.json == {"ip": "203.0.113.7"}


@pytest.mark.parametrize(
    "header",
    [
        "",  # no proxy in front (a function run alone)
        "34.120.1.2",  # shorter than the trusted proxies make it
        "not-an-ip, 34.120.1.2",
        ", 34.120.1.2",
    ],
)
def test_an_unexpected_header_falls_back_to_the_socket_peer(header):
    r = call("/v1/ip", peer="192.0.2.44", headers={"X-Forwarded-For": header} if header else {})
    assert r.json == {"ip": "192.0.2.44"}


def test_client_address_normalises_ipv6():
    assert client_address("2001:DB8::0:1, 34.120.1.2", "10.0.0.1", 1) == "2001:db8::1"


# --- item 12: security headers -------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/v1/ip", "/v1/nothing", "/v1/db-bug"])
def test_every_response_carries_the_security_headers(path):
    r = call(path)
    for name, value in SECURITY_HEADERS.items():
        assert r.headers[name] == value, name
    assert "Strict-Transport-Security" not in r.headers  # plain HTTP: RFC 6797 7.2


@pytest.mark.parametrize("path", ["/v1/ip", "/v1/nothing"])
def test_hsts_when_the_client_came_over_https(path):
    r = call(path, headers={"X-Forwarded-Proto": "https"})
    assert r.headers["Strict-Transport-Security"] == HSTS
    assert HSTS == "max-age=31536000; includeSubDomains"
    assert (
        call(path, headers={"X-Forwarded-Proto": "http"}).headers.get("Strict-Transport-Security")
        is None
    )


def test_a_handlers_own_policy_is_kept():
    r = call("/v1/page")
    assert r.headers.getlist("Content-Security-Policy") == ["default-src 'none'"]
    assert r.headers["X-Frame-Options"] == "DENY"


# --- item 14: a lost database connection ---------------------------------------------------------


@pytest.mark.parametrize("path", ["/v1/db-gone", "/v1/db-terminated"])
def test_a_lost_database_connection_is_503_with_retry_after(path):
    r = call(path)
    assert r.status_code == 503, r.data
    assert r.content_type == "application/problem+json"
    assert r.headers["Retry-After"] == "1"


def test_a_driver_error_that_is_not_a_lost_connection_stays_500():
    assert call("/v1/db-bug").status_code == 500


def test_connection_lost_reads_the_cause_chain():
    lost = pg8000.native.InterfaceError("connection is closed")
    try:
        try:
            raise lost
        except pg8000.native.InterfaceError:
            raise ValueError("wrapped") from None
    except ValueError as wrapped:
        # `from None` hides the context from tracebacks, not from __context__
        assert db.connection_lost(wrapped)
    assert db.connection_lost(pg8000.native.DatabaseError({"C": "08006"}))
    assert not db.connection_lost(pg8000.native.DatabaseError({"C": "23505"}))
    assert not db.connection_lost(ValueError("x"))


def test_a_reset_the_driver_lets_through_is_a_lost_connection():
    """pg8000 reads the first bytes of a reply outside its OSError wrapper: a reset connection
    then surfaces as a bare ConnectionResetError raised inside the driver."""
    import pg8000.core

    class Reset:
        def read(self, size):
            raise ConnectionResetError(104, "Connection reset by peer")

    with pytest.raises(ConnectionResetError) as raised:
        pg8000.core._read(Reset(), 5)
    assert db.connection_lost(raised.value)
    assert not db.connection_lost(ConnectionResetError(104, "an SMTP server, say"))


def test_responses_the_framework_answers_itself_carry_them_too(tmp_path):
    """A path functions-framework's router refuses never reaches the Api."""
    from functions_framework import create_app

    src = tmp_path / "main.py"
    src.write_text(
        "import functions_framework\n"
        "from shared.web.api import Api\n"
        "api = Api('framework_test', tag='Test')\n"
        "handle = functions_framework.http(api)\n"
    )
    client = create_app("handle", str(src)).test_client()
    r = client.get("/v1/x%0Ay", headers={"X-Forwarded-Proto": "https"})
    assert r.status_code == 404 and r.content_type == "application/problem+json"
    assert "X-Request-Id" not in r.headers  # answered by the framework, not the Api
    for name, value in SECURITY_HEADERS.items():
        assert r.headers.getlist(name) == [value], name
    assert r.headers["Strict-Transport-Security"] == HSTS
    r = client.get("/v1/fine")  # through the Api: still exactly one of each
    assert "X-Request-Id" in r.headers
    assert all(len(r.headers.getlist(name)) == 1 for name in SECURITY_HEADERS)
