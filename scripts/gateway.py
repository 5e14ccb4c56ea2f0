"""The local gateway: every function behind one URL map, routed as the cloud load balancer does.

One WSGI app loads each function listed in shared/resources.yaml whose
`functions/<name>/main.py` exists, through functions-framework's own `create_app` (so requests,
CloudEvents and Pub/Sub push bodies are decoded exactly as in Cloud Functions), and dispatches:

- public routes: the `routes` templates of resources.yaml, in list order, first match wins
  (`*` = exactly one path segment, `**` = zero or more trailing segments, as the load
  balancer's pathTemplateMatch). PATH_INFO is passed unchanged, as the load balancer does.
- `/_events/<name>[/...]`   Pub/Sub push deliveries for `trigger: pubsub` functions. The
  Pub/Sub emulator accepts but does not apply subscription `filter`s, so the gateway applies
  them here (a filtered-out message is acked with 204, as Pub/Sub would never deliver it).
- `/_tasks/<name>[/...]`    Cloud Tasks targets (`trigger: task`).
- `/_internal/<name>[/...]` crons and other internal HTTP functions (`internal: true`).
- `/_gateway/health`        200 JSON: mounted functions and the ones that failed to load.
- anything else: 404 `application/problem+json`.

Like the external load balancer it adds `X-Forwarded-For` (appending the peer address and its
own, so the client is one trusted hop from the right) and
`X-Forwarded-Proto`. A function whose module fails to import does not take the gateway down:
its routes answer 503 problem+json naming the error (set GATEWAY_STRICT=1 to fail instead).

Served by gunicorn (a functions-framework dependency) on 127.0.0.1, `WORKERS` (default 2) x
`THREADS` (default 4). Each worker imports the functions after the fork.

    python scripts/gateway.py --port 8080                       # everything in resources.yaml
    python scripts/gateway.py --functions auth,channels         # a subset
    python scripts/gateway.py --only hello=/tmp/h/main.py:hello # just this one, at /**
    python scripts/gateway.py --extra hello=/tmp/h/main.py:hello # also this one, at /_fn/hello/**
    python scripts/gateway.py --routes                           # print the route table
"""

from __future__ import annotations

import argparse
import io
import json
import os
import re
import sys
import traceback
import uuid
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESOURCES = ROOT / "shared" / "resources.yaml"
FUNCTIONS_DIR = ROOT / "functions"

SIGNATURES = {"http": "http", "task": "http", "pubsub": "cloudevent", "storage": "cloudevent"}


@dataclass
class FunctionSpec:
    name: str
    source: Path
    entry_point: str
    signature: str = "http"
    routes: list[str] = field(default_factory=list)
    # subscription name -> Pub/Sub filter expression, applied to push deliveries
    filters: dict[str, str] = field(default_factory=dict)


# --------------------------------------------------------------------------------------------
# Route templates


def template_regex(template: str) -> str:
    """pathTemplateMatch -> regex source: `*` one segment, trailing `**` any rest (maybe none)."""
    if not template.startswith("/"):
        raise ValueError(f"route template must start with '/': {template!r}")
    parts = template.split("/")[1:]
    out = []
    for i, seg in enumerate(parts):
        if seg == "**":
            if i != len(parts) - 1:
                raise ValueError(f"'**' must be the last segment: {template!r}")
            out.append("(?:/.*)?")
        elif seg == "*":
            out.append("/[^/]+")
        elif "*" in seg:
            raise ValueError(f"wildcards must be whole segments: {template!r}")
        else:
            out.append("/" + re.escape(seg))
    return "".join(out) or "/"


# --------------------------------------------------------------------------------------------
# Pub/Sub subscription filters (subset of the filter language: attributes only)

_TOKEN = re.compile(
    r'\s*(?:(?P<str>"(?:[^"\\]|\\.)*")|(?P<op>!=|=|:|\(|\)|,|-)|(?P<word>[A-Za-z_][\w.\-]*))'
)


class FilterError(ValueError):
    pass


def compile_filter(expr: str):
    """Compile a Pub/Sub filter into a predicate over the attributes dict.

    Supports `attributes.K = "v"`, `!=`, `attributes:K` (has key), `hasPrefix(attributes.K,
    "p")`, `NOT`/`-`, `AND`, `OR` and parentheses: what subscriptions filter on in practice.
    """
    tokens: list[tuple[str, str]] = []
    pos = 0
    expr = expr.strip()
    while pos < len(expr):
        m = _TOKEN.match(expr, pos)
        if not m or m.end() == pos:
            raise FilterError(f"cannot parse filter at {expr[pos:]!r}")
        kind = m.lastgroup or ""
        tokens.append((kind, m.group(kind)))
        pos = m.end()
        while pos < len(expr) and expr[pos].isspace():
            pos += 1
    i = 0

    def peek():
        return tokens[i] if i < len(tokens) else ("", "")

    def take(kind=None, value=None):
        nonlocal i
        tok = peek()
        if (kind and tok[0] != kind) or (value is not None and tok[1] != value):
            raise FilterError(f"expected {value or kind} in filter {expr!r}, got {tok[1]!r}")
        i += 1
        return tok

    def attr_name(word: str) -> str:
        if not word.startswith("attributes."):
            raise FilterError(f"only attributes can be filtered on: {word!r}")
        return word[len("attributes.") :]

    def string() -> str:
        return json.loads(take("str")[1])

    def primary():
        kind, val = peek()
        if val == "(":
            take(value="(")
            pred = disjunction()
            take(value=")")
            return pred
        if val == "-" or (kind == "word" and val == "NOT"):
            take()
            inner = primary()
            return lambda a: not inner(a)
        if kind == "word" and val == "hasPrefix":
            take()
            take(value="(")
            key = attr_name(take("word")[1])
            take(value=",")
            prefix = string()
            take(value=")")
            return lambda a: a.get(key, "").startswith(prefix)
        if kind == "word" and val == "attributes":
            take()
            take(value=":")
            key = take("word")[1]
            return lambda a: key in a
        key = attr_name(take("word")[1])
        op = take("op")[1]
        if op == ":":
            return lambda a: key in a
        want = string()
        if op == "=":
            return lambda a: a.get(key) == want
        if op == "!=":
            return lambda a: a.get(key) != want
        raise FilterError(f"unsupported operator {op!r} in {expr!r}")

    def conjunction():
        pred = primary()
        while peek() == ("word", "AND"):
            take()
            left, right = pred, primary()
            pred = lambda a, left=left, right=right: left(a) and right(a)  # noqa: E731
        return pred

    def disjunction():
        pred = conjunction()
        while peek() == ("word", "OR"):
            take()
            left, right = pred, conjunction()
            pred = lambda a, left=left, right=right: left(a) or right(a)  # noqa: E731
        return pred

    result = disjunction()
    if i != len(tokens):
        raise FilterError(f"trailing input in filter {expr!r}")
    return result


class PushFilter:
    """Applies subscription filters to Pub/Sub push bodies before the function sees them."""

    def __init__(self, app, filters: dict[str, str]):
        self.app = app
        self.filters = {sub: compile_filter(f) for sub, f in filters.items()}

    def __call__(self, environ, start_response):
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        body = environ["wsgi.input"].read(length) if length else b""
        environ["wsgi.input"] = io.BytesIO(body)
        try:
            doc = json.loads(body)
            sub = str(doc.get("subscription", "")).rsplit("/", 1)[-1]
            attributes = (doc.get("message") or {}).get("attributes") or {}
        except (ValueError, AttributeError):
            sub, attributes = "", {}
        pred = self.filters.get(sub)
        if pred is not None and not pred(attributes):
            start_response("204 No Content", [("X-Gateway-Filtered", sub)])
            return [b""]
        return self.app(environ, start_response)


# --------------------------------------------------------------------------------------------
# The gateway app


def _problem(start_response, status: int, title: str, detail: str, environ, extra=()):
    body = json.dumps(
        {"type": "about:blank", "title": title, "status": status, "detail": detail}
    ).encode()
    rid = environ.get("HTTP_X_REQUEST_ID") or uuid.uuid4().hex
    reason = {404: "Not Found", 503: "Service Unavailable"}.get(status, title)
    start_response(
        f"{status} {reason}",
        [
            ("Content-Type", "application/problem+json"),
            ("Content-Length", str(len(body))),
            ("X-Request-Id", rid),
            *extra,
        ],
    )
    return [body]


def _failed_app(name: str, error: str):
    def app(environ, start_response):
        return _problem(
            start_response,
            503,
            "Function failed to load",
            f"function {name!r} could not be loaded: {error}",
            environ,
        )

    return app


class Gateway:
    """Dispatches by one precompiled alternation regex; `lastgroup` names the winning route."""

    def __init__(self, mounts: list[tuple[str, str, object]], health: dict | None = None):
        # mounts: (template, function name, wsgi app), in precedence order
        self.table = [(t, n) for t, n, _ in mounts]
        self._apps = {}
        alternatives = []
        for i, (template, _name, app) in enumerate(mounts):
            alternatives.append(f"(?P<r{i}>{template_regex(template)})")
            self._apps[f"r{i}"] = app
        self._match = re.compile("|".join(alternatives) or "(?!)").fullmatch
        self._health = json.dumps(health or {}).encode()

    def __call__(self, environ, start_response):
        path = environ.get("PATH_INFO") or "/"
        if path == "/_gateway/health":
            start_response(
                "200 OK",
                [
                    ("Content-Type", "application/json"),
                    ("Content-Length", str(len(self._health))),
                ],
            )
            return [self._health]
        m = self._match(path)
        if m is None:
            return _problem(
                start_response,
                404,
                "Not Found",
                f"no route for {environ.get('REQUEST_METHOD', 'GET')} {path}",
                environ,
                extra=[("X-Gateway-No-Route", "1")],
            )
        # As Google's load balancer: append `<client>, <forwarding-rule IP>` (ours: loopback),
        # so TRUSTED_PROXY_HOPS=1 finds the peer here as in the cloud.
        peer = environ.get("REMOTE_ADDR") or "127.0.0.1"
        xff = environ.get("HTTP_X_FORWARDED_FOR")
        ours = f"{peer}, 127.0.0.1"
        environ["HTTP_X_FORWARDED_FOR"] = f"{xff}, {ours}" if xff else ours
        environ.setdefault("HTTP_X_FORWARDED_PROTO", environ.get("wsgi.url_scheme", "http"))
        return self._apps[m.lastgroup](environ, start_response)


# --------------------------------------------------------------------------------------------
# Loading functions


def load_resources(path: Path = RESOURCES) -> dict:
    import yaml

    with open(path) as fh:
        return yaml.safe_load(fh) or {}


def specs_from_resources(
    resources: dict, functions_dir: Path = FUNCTIONS_DIR, names: set[str] | None = None
) -> tuple[list[FunctionSpec], list[str]]:
    """Function specs for every function whose main.py exists; also the names that are missing."""
    filters_by_fn: dict[str, dict[str, str]] = {}
    for sub in resources.get("subscriptions") or []:
        if sub.get("push_function") and sub.get("filter"):
            filters_by_fn.setdefault(sub["push_function"], {})[sub["name"]] = sub["filter"]
    cron_targets = {c["function"] for c in resources.get("crons") or []}
    specs, missing = [], []
    for fn in resources.get("functions") or []:
        name = fn["name"]
        if names is not None and name not in names:
            continue
        source = functions_dir / name / "main.py"
        if not source.exists():
            missing.append(name)
            continue
        trigger = fn.get("trigger", "http")
        routes = list(fn.get("routes") or [])
        if trigger in ("pubsub", "storage"):
            routes += mount_routes_for(name, "_events")
        if trigger == "task":
            routes += mount_routes_for(name, "_tasks")
        if fn.get("internal") or name in cron_targets:
            routes += mount_routes_for(name, "_internal")
        specs.append(
            FunctionSpec(
                name=name,
                source=source,
                entry_point=fn["entry_point"],
                signature=SIGNATURES.get(trigger, "http"),
                routes=routes,
                filters=filters_by_fn.get(name, {}),
            )
        )
    return specs, missing


def mount_routes_for(name: str, kind: str) -> list[str]:
    return [f"/{kind}/{name}/**"]


def parse_function_arg(arg: str, default_routes: list[str]) -> FunctionSpec:
    """`name=path/to/main.py:entry[:signature][@/route|/route2]` -> FunctionSpec."""
    routes = None
    if "@" in arg:
        arg, route_part = arg.split("@", 1)
        routes = [r for r in route_part.split("|") if r]
    name, _, rest = arg.partition("=")
    bits = rest.rsplit(":", 2) if rest.count(":") >= 2 else rest.rsplit(":", 1)
    if not name or len(bits) < 2:
        raise SystemExit(f"bad function spec {arg!r}: want name=path/main.py:entry[:signature]")
    source, entry = bits[0], bits[1]
    signature = bits[2] if len(bits) == 3 else "http"
    routes = routes or [r.replace("{name}", name) for r in default_routes]
    return FunctionSpec(
        name=name,
        source=Path(source).resolve(),
        entry_point=entry,
        signature=signature,
        routes=routes,
    )


def _load_one(spec: FunctionSpec):
    """create_app for one function, keeping its private helper modules out of the others' way."""
    import functions_framework

    before = set(sys.modules)
    app = functions_framework.create_app(
        target=spec.entry_point, source=str(spec.source), signature_type=spec.signature
    )
    # functions-framework registers every function module as sys.modules["main"] and puts its
    # folder on sys.path; forget helper modules imported from this function's folder so the
    # next function importing a same-named helper gets its own (they stay referenced here).
    folder = str(spec.source.parent.resolve()) + os.sep
    for mod_name in set(sys.modules) - before:
        mod_file = getattr(sys.modules[mod_name], "__file__", None) or ""
        if mod_file.startswith(folder):
            del sys.modules[mod_name]
    sys.modules.pop("main", None)
    if spec.filters:
        app = PushFilter(app, spec.filters)
    return app


def build_app(specs: list[FunctionSpec], missing: list[str] | None = None, strict=False):
    mounts, loaded, failed = [], [], {}
    for spec in specs:
        try:
            app = _load_one(spec)
            loaded.append(spec.name)
        except Exception as exc:
            if strict:
                raise
            traceback.print_exc()
            error = f"{type(exc).__name__}: {exc}"
            print(f"gateway: function {spec.name} failed to load: {error}", file=sys.stderr)
            failed[spec.name] = error
            app = _failed_app(spec.name, error)
        for route in spec.routes:
            mounts.append((route, spec.name, app))
    # Public routes keep resources.yaml order (it decides precedence); the /_events, /_tasks
    # and /_internal mounts start with "/_" and cannot clash with them.
    health = {"functions": loaded, "failed": failed, "missing": missing or []}
    return Gateway(mounts, health)


def make_app(args) -> Gateway:
    if args.only:
        specs = [parse_function_arg(a, ["/**"]) for a in args.only]
        missing: list[str] = []
    else:
        names = set(args.functions.split(",")) if args.functions else None
        specs, missing = specs_from_resources(load_resources(Path(args.resources)), names=names)
        specs = [parse_function_arg(a, ["/_fn/{name}/**"]) for a in args.extra] + specs
    return build_app(specs, missing, strict=os.environ.get("GATEWAY_STRICT") == "1")


# --------------------------------------------------------------------------------------------
# Serving


def serve(app_factory, host: str, port: int, workers: int, threads: int) -> None:
    import gunicorn.app.base

    class Server(gunicorn.app.base.BaseApplication):
        def load_config(self):
            options = {
                "bind": f"{host}:{port}",
                "workers": workers,
                "threads": threads,
                "worker_class": "gthread" if threads > 1 else "sync",
                "timeout": 0,  # as functions-framework: no worker timeout
                "graceful_timeout": 3,
                "loglevel": os.environ.get("GUNICORN_LOG_LEVEL", "error"),
                "limit_request_line": 0,
                "preload_app": False,  # import functions in each worker, after the fork
                "proc_name": "local-gateway",
            }
            for key, value in options.items():
                self.cfg.set(key, value)

        def load(self):
            return app_factory()

    Server().run()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", 8080)))
    parser.add_argument("--resources", default=str(RESOURCES))
    parser.add_argument("--functions", help="comma-separated subset of resources.yaml")
    parser.add_argument("--only", action="append", default=[], metavar="NAME=SRC:ENTRY")
    parser.add_argument("--extra", action="append", default=[], metavar="NAME=SRC:ENTRY")
    parser.add_argument("--routes", action="store_true", help="print the route table and exit")
    args = parser.parse_args(argv)
    if args.routes:
        for template, name in make_app(args).table:
            print(f"{template:45} -> {name}")
        return
    workers = int(os.environ.get("WORKERS", 2))
    threads = int(os.environ.get("THREADS", 4))
    serve(lambda: make_app(args), args.host, args.port, workers, threads)


if __name__ == "__main__":
    main()
