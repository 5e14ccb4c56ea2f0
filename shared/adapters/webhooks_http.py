"""Outbound HTTP for webhook deliveries: one POST to a URL nobody here controls.

SSRF defence lives at connect time: the host is resolved here, every A/AAAA record is handed to
the caller's `allow` predicate (one refused record refuses the host), and the socket connects to
a vetted address, never to a name the resolver could answer differently a second time (DNS
rebinding). TLS still verifies the certificate against the host name (SNI). Redirects are never
followed (http.client does not), connect and read timeouts bound the wait, and at most
`max_bytes` of the answer are read, so a slow or hostile endpoint cannot hold a worker.
"""

from __future__ import annotations

import http.client
import socket
import ssl
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit


class AddressRefused(Exception):
    """The host resolved to an address the caller does not allow (or did not resolve)."""


@dataclass(frozen=True)
class Answer:
    status_code: int | None  # None: no HTTP answer (refused, timeout, connection error)
    latency_ms: int
    body: bytes = b""
    error: str | None = None


def resolve(host: str, port: int) -> list[str]:
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def vetted_address(host: str, port: int, allow: Callable[[list[str]], bool]) -> str:
    """The address to connect to, once every record of `host` passed `allow`."""
    try:
        addresses = resolve(host, port)
    except OSError as e:
        raise AddressRefused(f"cannot resolve {host}") from e
    if not allow(addresses):
        raise AddressRefused(f"{host} resolves to a refused address")
    return addresses[0]


class _PinnedHTTPConnection(http.client.HTTPConnection):
    def __init__(
        self, host: str, port: int, *, address: str, connect_timeout: float, read_timeout: float
    ) -> None:
        super().__init__(host, port, timeout=connect_timeout)
        self._address = address
        self._read_timeout = read_timeout

    def connect(self) -> None:
        self.sock = socket.create_connection((self._address, self.port), self.timeout)
        self.sock.settimeout(self._read_timeout)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    def __init__(
        self, host: str, port: int, *, address: str, connect_timeout: float, read_timeout: float
    ) -> None:
        super().__init__(host, port, timeout=connect_timeout, context=ssl.create_default_context())
        self._address = address
        self._read_timeout = read_timeout

    def connect(self) -> None:
        raw = socket.create_connection((self._address, self.port), self.timeout)
        self.sock = self._context.wrap_socket(raw, server_hostname=self.host)  # type: ignore[attr-defined]
        self.sock.settimeout(self._read_timeout)


def _read_capped(resp: http.client.HTTPResponse, max_bytes: int, *, deadline: float) -> bytes:
    """At most `max_bytes` of the body, by the deadline: the socket's read timeout bounds each
    wait, this bounds their sum, so an endpoint trickling bytes cannot hold the worker."""
    chunks: list[bytes] = []
    left = max_bytes
    while left > 0:
        if time.monotonic() > deadline:
            raise TimeoutError("the answer took longer than the read timeout")
        chunk = resp.read1(min(left, 8192))
        if not chunk:
            break
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def post(
    url: str,
    body: bytes,
    headers: Mapping[str, str],
    *,
    allow: Callable[[list[str]], bool],
    connect_timeout: float,
    read_timeout: float,
    max_bytes: int,
) -> Answer:
    """POST `body` to `url`; never raises for the endpoint's failures, answers them."""
    started = time.monotonic()

    def elapsed() -> int:
        return int((time.monotonic() - started) * 1000)

    parts = urlsplit(url)
    host = parts.hostname or ""
    https = parts.scheme == "https"
    port = parts.port or (443 if https else 80)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    try:
        address = vetted_address(host, port, allow)
    except AddressRefused as e:
        return Answer(None, elapsed(), error=str(e))
    kind = _PinnedHTTPSConnection if https else _PinnedHTTPConnection
    conn = kind(
        host, port, address=address, connect_timeout=connect_timeout, read_timeout=read_timeout
    )
    try:
        conn.request("POST", path, body=body, headers={**headers, "Content-Length": str(len(body))})
        resp = conn.getresponse()
        data = _read_capped(resp, max_bytes, deadline=started + connect_timeout + read_timeout)
        return Answer(resp.status, elapsed(), body=data)
    except TimeoutError as e:
        return Answer(None, elapsed(), error=f"timeout: {e}"[:300])
    except (OSError, http.client.HTTPException) as e:
        return Answer(None, elapsed(), error=f"{type(e).__name__}: {e}"[:300])
    finally:
        conn.close()
