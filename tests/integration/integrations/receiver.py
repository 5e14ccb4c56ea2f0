"""A webhook receiver on loopback for the webhook tests: records what it is sent and answers
what the test scripts (a status per path, a redirect, a huge body, or no answer at all)."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    statuses: dict[str, list[int]] = field(default_factory=dict)  # path -> answers, in turn
    redirects: dict[str, str] = field(default_factory=dict)  # path -> Location
    big: set[str] = field(default_factory=set)  # paths answered with 1 MiB
    hang: set[str] = field(default_factory=set)  # paths never answered until stop()
    trickle: set[str] = field(default_factory=set)  # paths answered one byte per 50 ms
    received: list[Received] = field(default_factory=list)
    released: threading.Event = field(default_factory=threading.Event)
    server: Any = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def url(self, path: str) -> str:
        return self.base_url + path

    def on(self, path: str) -> list[Received]:
        return [r for r in self.received if r.path == path]

    def stop(self) -> None:
        self.released.set()
        self.server.shutdown()
        self.server.server_close()


def start_receiver() -> Receiver:
    rec = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            body = self.rfile.read(length)
            rec.received.append(Received(self.path, dict(self.headers.items()), body))
            if self.path in rec.hang:
                rec.released.wait(30)
                return
            if self.path in rec.redirects:
                self.send_response(307)
                self.send_header("Location", rec.redirects[self.path])
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            if self.path in rec.trickle:
                self.send_response(200)
                self.send_header("Content-Length", "200")
                self.end_headers()
                for _ in range(200):
                    if rec.released.wait(0.05):
                        return
                    self.wfile.write(b"x")
                    self.wfile.flush()
                return
            queue = rec.statuses.get(self.path)
            status = queue.pop(0) if queue else 200
            payload = b"x" * (1 << 20) if self.path in rec.big else b"ok"
            self.send_response(status)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args: Any) -> None:
            pass

    rec.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    rec.server.daemon_threads = True
    threading.Thread(target=rec.server.serve_forever, daemon=True).start()
    return rec
