"""Test session wiring: one private local stack (scripts/stack.py), started only when needed.

How it works
- `pytest_configure` plans a test-profile Stack (temp state dir, free ports, so it runs beside
  `make dev`) and exports its env (DATABASE_URL, GATEWAY_URL, PUBSUB_EMULATOR_HOST, ...) into
  os.environ before any test module is imported, so `shared.platform.config.settings()` sees it.
  Nothing is started at that point.
- Tests are marked by directory: tests/unit -> `unit`, tests/integration -> `integration`,
  tests/e2e -> `e2e`, tests/infra -> `infra`. Mark any other test `stack` if it needs services.
- After collection, if any selected test is `integration`, `e2e` or `stack`, the stack is
  started (~4 s) before the first test runs; a run of only unit/infra tests starts nothing.
  Anything that requests the `stack` fixture (or gateway_url, mail_dir, admin_db) also starts it
  on first use. If the stack cannot start, the tests that need it error with the service's
  log tail; the others still run.
- pytest-xdist: workers inherit the env; the first worker that needs the stack starts it under
  a file lock, the others attach; the controller stops it at the end.
- The stack is stopped at session end, also on Ctrl-C and SIGTERM; if pytest is killed, the
  stack's watchdog stops it. KEEP_STACK_STATE=1 keeps the temp dir (logs) afterwards.
- `STACK_ENV_FILE=.local/stack.env pytest ...` reuses a running stack (e.g. `make dev`) for fast
  iteration; it is never stopped by the tests (and they write into its database).

Fixtures
- `stack`        the Stack: `.env` (dict), `.gateway_url`, `.urls`, `.ports`, `.state_dir`,
                 `.mail_dir`, `.bucket(key)`, `.queue_path(name)`, `.project`
- `gateway_url`  str, e.g. "http://127.0.0.1:41234"
- `mail_dir`     Path of the SMTP sink's .eml files
- `admin_db`     factory: `admin_db(role="superuser"|"owner"|"app", database=None)` -> an open
                 pg8000.native.Connection (closed at session end if the test did not)
- `wait_for_mail` `wait_for_mail(to, timeout=10, subject=None)` -> email.message.EmailMessage
"""

from __future__ import annotations

import contextlib
import email
import email.policy
import os
import signal
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))

import stack as local_stack  # noqa: E402  (scripts/stack.py)

from tests.helpers import eventually  # noqa: E402

STACK_MARKERS = ("integration", "e2e", "stack")
DIR_MARKERS = {"unit": "unit", "integration": "integration", "e2e": "e2e", "infra": "infra"}

_state: dict = {"stack": None, "error": None, "started": False, "controller": True}


def _export(env: dict[str, str]) -> None:
    os.environ.update(env)
    config = sys.modules.get("shared.platform.config")
    if config is not None and hasattr(config.settings, "cache_clear"):
        config.settings.cache_clear()


def _sigterm_to_interrupt() -> None:
    """SIGTERM (a CI timeout) unwinds like Ctrl-C, so the session teardown stops the stack."""

    def handler(signum, frame):
        raise KeyboardInterrupt

    with contextlib.suppress(ValueError):  # not the main thread
        if signal.getsignal(signal.SIGTERM) in (signal.SIG_DFL, None):
            signal.signal(signal.SIGTERM, handler)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "unit: pure logic, no services (tests/unit)")
    config.addinivalue_line("markers", "integration: real Postgres and emulators")
    config.addinivalue_line("markers", "infra: static checks of Terraform and packaging")
    config.addinivalue_line("markers", "stack: needs the local stack (started on demand)")
    reuse = os.environ.get("STACK_ENV_FILE")
    if reuse and Path(reuse).is_file():
        stack = local_stack.Stack.from_env_file(reuse)
        _export(stack.env)
    elif hasattr(config, "workerinput"):  # an xdist worker: the controller planned it
        _state["controller"] = False
        stack = local_stack.Stack.from_plan(os.environ["LOCAL_STACK_PLAN"])
    else:
        stack = local_stack.Stack("test")
        plan = stack.write_plan()
        _export({**stack.env, "LOCAL_STACK_PLAN": str(plan)})
        _sigterm_to_interrupt()
    _state["stack"] = stack


def pytest_unconfigure(config: pytest.Config) -> None:
    stack = _state["stack"]
    if stack is not None and _state["controller"] and not stack.attached:
        stack.stop()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    tests_dir = Path(__file__).resolve().parent
    for item in items:
        with contextlib.suppress(ValueError):
            top = Path(item.path).resolve().relative_to(tests_dir).parts[0]
            if top in DIR_MARKERS and not item.get_closest_marker(DIR_MARKERS[top]):
                item.add_marker(DIR_MARKERS[top])


def _needs_stack(item: pytest.Item) -> bool:
    return any(item.get_closest_marker(m) for m in STACK_MARKERS)


def _start() -> local_stack.Stack:
    stack = _state["stack"]
    if _state["error"] is not None:
        raise _state["error"]
    if not _state["started"]:
        try:
            if stack.attached:
                if not local_stack.http_ok(stack.env["GATEWAY_URL"] + "/_gateway/health", 5):
                    raise local_stack.StackError(
                        f"STACK_ENV_FILE={os.environ.get('STACK_ENV_FILE')}: its gateway "
                        f"{stack.env['GATEWAY_URL']} does not answer; is the stack running?"
                    )
            else:
                stack.ensure_started()
        except local_stack.StackError as exc:
            _state["error"] = exc
            raise
        _state["started"] = True
    return stack


def pytest_collection_finish(session: pytest.Session) -> None:
    if session.config.option.collectonly:
        return
    if any(_needs_stack(item) for item in session.items):
        with contextlib.suppress(local_stack.StackError):  # reported by the tests needing it
            _start()


@pytest.fixture(scope="session")
def stack() -> local_stack.Stack:
    return _start()


@pytest.fixture(autouse=True)
def _stack_for_marked_tests(request: pytest.FixtureRequest) -> None:
    if _needs_stack(request.node):
        request.getfixturevalue("stack")


# functions-framework's create_app() writes the signature type it resolved into os.environ,
# where the next create_app() without an explicit type picks it up: keep tests independent.
_FUNCTIONS_FRAMEWORK_ENV = (
    "FUNCTION_SIGNATURE_TYPE",
    "FUNCTION_TARGET",
    "FUNCTION_SOURCE",
    "FUNCTION_TRIGGER_TYPE",
    "FUNCTION_NAME",
)


@pytest.fixture(autouse=True)
def _isolate_functions_framework_env():
    saved = {k: os.environ.get(k) for k in _FUNCTIONS_FRAMEWORK_ENV}
    yield
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


@pytest.fixture(scope="session")
def gateway_url(stack: local_stack.Stack) -> str:
    return stack.env["GATEWAY_URL"]


@pytest.fixture(scope="session")
def mail_dir(stack: local_stack.Stack) -> Path:
    return Path(stack.env["MAIL_DIR"])


@pytest.fixture(scope="session")
def admin_db(stack: local_stack.Stack):
    urls = {
        "superuser": stack.env.get("ADMIN_DATABASE_URL") or stack.env["MIGRATION_DATABASE_URL"],
        "owner": stack.env["MIGRATION_DATABASE_URL"],
        "app": stack.env["DATABASE_URL"],
    }
    db_name = stack.env.get("DB_NAME") or None
    opened = []

    def connect(role: str = "superuser", database: str | None = None):
        if role not in urls:
            raise ValueError(f"role is one of {sorted(urls)}")
        conn = local_stack.pg_connect(urls[role], database=database or db_name)
        opened.append(conn)
        return conn

    yield connect
    for conn in opened:
        with contextlib.suppress(Exception):
            conn.close()


@pytest.fixture
def wait_for_mail(mail_dir: Path):
    """Wait for a mail to `to` (and `subject`, if given) that arrived after the test started."""
    started = time.time_ns() - 10**9

    def arrived(to: str, subject: str | None):
        for path in sorted(mail_dir.glob("*.eml")):
            if int(path.name.split("-", 1)[0]) < started:
                continue
            msg = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
            rcpts = f"{msg.get('X-Envelope-To', '')},{msg.get('To', '')}".lower()
            if to.lower() in rcpts and (subject is None or subject in str(msg["Subject"])):
                return msg
        return None

    def wait(to: str, timeout: float = 10, subject: str | None = None):
        return eventually(
            lambda: arrived(to, subject),
            until=lambda msg: msg is not None,
            timeout=timeout,
            interval=0.1,
            what=f"mail to {to} in {mail_dir}",
        )

    return wait
