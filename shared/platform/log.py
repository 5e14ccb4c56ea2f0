"""JSON logs in Cloud Logging's structured format, correlated with the request's trace."""

from __future__ import annotations

import json
import logging
import sys
import traceback
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

from shared.platform.config import settings

# Per-request context: request id, trace, function name.
log_context: ContextVar[dict[str, Any] | None] = ContextVar("log_context", default=None)

_SEVERITY = {"WARNING": "WARNING", "ERROR": "ERROR", "CRITICAL": "CRITICAL", "INFO": "INFO"}


class CloudLoggingFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "severity": _SEVERITY.get(record.levelname, "DEBUG"),
            "message": record.getMessage(),
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "logger": record.name,
        }
        ctx = log_context.get()
        if ctx:
            if ctx.get("trace_id"):
                entry["logging.googleapis.com/trace"] = (
                    f"projects/{settings().gcp_project}/traces/{ctx['trace_id']}"
                )
                if ctx.get("span_id"):
                    entry["logging.googleapis.com/spanId"] = ctx["span_id"]
            for k in ("request_id", "function", "user_id", "channel_id"):
                if ctx.get(k):
                    entry[k] = ctx[k]
        extra = getattr(record, "fields", None)
        if isinstance(extra, dict):
            entry.update(extra)
        if record.exc_info:
            entry["stack_trace"] = "".join(traceback.format_exception(*record.exc_info))
        return json.dumps(entry, default=str)


def setup() -> None:
    root = logging.getLogger()
    if any(isinstance(h.formatter, CloudLoggingFormatter) for h in root.handlers):
        return
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(CloudLoggingFormatter())
    root.handlers = [handler]
    root.setLevel(logging.INFO)


def parse_trace(headers: Any) -> tuple[str | None, str | None]:
    """Trace and span ids from `traceparent` (W3C) or `X-Cloud-Trace-Context`."""
    tp = headers.get("traceparent")
    if tp:
        parts = tp.split("-")
        if len(parts) == 4 and len(parts[1]) == 32:
            return parts[1], parts[2]
    xc = headers.get("X-Cloud-Trace-Context")
    if xc:
        trace, _, rest = xc.partition("/")
        return trace or None, rest.split(";")[0] or None
    return None, None
