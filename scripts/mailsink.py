"""Local SMTP sink: every message the platform sends becomes one .eml file in a directory.

    python scripts/mailsink.py --port 2525 --dir .local/mail

Each file is the message exactly as received, preceded by `X-Envelope-From` and
`X-Envelope-To` headers (the SMTP envelope), written atomically (temp name, then rename), so
a reader globbing `*.eml` never sees half a message. Names sort by arrival time.
"""

from __future__ import annotations

import argparse
import os
import signal
import threading
import time
import uuid
from pathlib import Path

from aiosmtpd.controller import Controller


class MaildirHandler:
    def __init__(self, directory: Path):
        self.directory = directory
        self.directory.mkdir(parents=True, exist_ok=True)

    async def handle_DATA(self, server, session, envelope):
        content = envelope.original_content or envelope.content or b""
        if isinstance(content, str):
            content = content.encode()
        head = (
            f"X-Envelope-From: {envelope.mail_from}\r\n"
            f"X-Envelope-To: {', '.join(envelope.rcpt_tos)}\r\n"
        ).encode()
        name = f"{time.time_ns()}-{uuid.uuid4().hex[:8]}.eml"
        tmp = self.directory / f".{name}.tmp"
        tmp.write_bytes(head + content)
        os.replace(tmp, self.directory / name)
        print(f"mail from {envelope.mail_from} to {envelope.rcpt_tos} -> {name}", flush=True)
        return "250 Message accepted for delivery"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=2525)
    parser.add_argument("--dir", default=os.environ.get("MAIL_DIR", ".local/mail"))
    args = parser.parse_args()
    controller = Controller(
        MaildirHandler(Path(args.dir)),
        hostname=args.host,
        port=args.port,
        enable_SMTPUTF8=True,
    )
    controller.start()
    print(f"mail sink on {args.host}:{args.port} -> {Path(args.dir).resolve()}", flush=True)
    done = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: done.set())
    done.wait()
    controller.stop()


if __name__ == "__main__":
    main()
