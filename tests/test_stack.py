"""The local stack is real: each service answers with the behaviour the code relies on.

Tests marked `stack` run against the session's test stack (tests/conftest.py); the others
exercise the gateway's routing and filters and the stack's process hygiene without services.
"""

from __future__ import annotations

import io
import json
import os
import signal
import smtplib
import subprocess
import sys
import time
import uuid
from email.message import EmailMessage
from pathlib import Path

import pytest
import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))

import gateway  # noqa: E402
import local_cron  # noqa: E402
import stack as local_stack  # noqa: E402

stack_test = pytest.mark.stack


def _resources() -> dict:
    return local_stack.load_resources()


# --- Postgres ------------------------------------------------------------------------------


@stack_test
def test_functions_connect_as_a_least_privileged_role(stack, admin_db):
    app = admin_db(role="app")
    (user, superuser, bypass, in_group) = app.run(
        "SELECT current_user, r.rolsuper, r.rolbypassrls, pg_has_role('platform_app', 'member')"
        " FROM pg_roles r WHERE r.rolname = current_user"
    )[0]
    app.close()
    assert user == "platform_app_login"
    assert (superuser, bypass, in_group) == (False, False, True)
    admin = admin_db()
    owned = admin.run(
        "SELECT count(*) FROM pg_class c JOIN pg_roles r ON r.oid = c.relowner"
        " WHERE r.rolname = 'platform_app_login'"
    )[0][0]
    schema_owner = admin.run(
        "SELECT r.rolname FROM pg_namespace n JOIN pg_roles r ON r.oid = n.nspowner"
        " WHERE n.nspname = 'public'"
    )[0][0]
    admin.close()
    assert owned == 0
    assert schema_owner == "platform_owner"


@stack_test
def test_postgres_checks_passwords(stack):
    url = stack.env["DATABASE_URL"].replace(":app@", ":wrong@")
    with pytest.raises(Exception, match="password"):
        local_stack.pg_connect(url, timeout=5)


# --- GCS -> Pub/Sub ------------------------------------------------------------------------


@pytest.fixture
def media_events_pull(stack):
    from google.cloud import pubsub_v1

    subscriber = pubsub_v1.SubscriberClient()
    name = subscriber.subscription_path(stack.project, f"test-{uuid.uuid4().hex}")
    subscriber.create_subscription(
        request={"name": name, "topic": f"projects/{stack.project}/topics/media-object-events"}
    )
    yield subscriber, name
    subscriber.delete_subscription(request={"subscription": name})
    subscriber.close()


def _pull_until(subscriber, name, predicate, timeout=5.0):
    from google.api_core.exceptions import DeadlineExceeded

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            resp = subscriber.pull(
                request={"subscription": name, "max_messages": 10}, timeout=1, retry=None
            )
        except DeadlineExceeded:
            continue
        if resp.received_messages:
            subscriber.acknowledge(
                request={
                    "subscription": name,
                    "ack_ids": [m.ack_id for m in resp.received_messages],
                }
            )
        for m in resp.received_messages:
            if predicate(m.message):
                return m.message
        time.sleep(0.1)
    return None


@stack_test
def test_media_upload_publishes_object_finalize_within_5s(stack, media_events_pull):
    from google.cloud import storage

    subscriber, sub = media_events_pull
    client = storage.Client(project=stack.project)
    other = f"other/{uuid.uuid4().hex}.txt"
    client.bucket(stack.bucket("recordings")).blob(other).upload_from_string(b"x")
    name = f"uploads/{uuid.uuid4().hex}.bin"
    client.bucket(stack.bucket("media")).blob(name).upload_from_string(
        b"\0" * 1024, content_type="application/octet-stream"
    )
    msg = _pull_until(subscriber, sub, lambda m: m.attributes.get("objectId") == name)
    assert msg is not None, "no OBJECT_FINALIZE for the upload within 5 s"
    assert msg.attributes["eventType"] == "OBJECT_FINALIZE"
    assert msg.attributes["bucketId"] == stack.bucket("media")
    assert json.loads(msg.data)["size"] == "1024"
    # only the media bucket notifies (resources.yaml): the recordings upload published nothing
    stray = _pull_until(subscriber, sub, lambda m: m.attributes.get("objectId") == other, 1.0)
    assert stray is None


@stack_test
def test_signing_key_makes_v4_urls_the_emulator_accepts(stack):
    from google.cloud import storage
    from google.oauth2 import service_account

    creds = service_account.Credentials.from_service_account_file(stack.env["SIGNING_KEY_FILE"])
    client = storage.Client(project=stack.project)
    blob = client.bucket(stack.bucket("media")).blob(f"signed/{uuid.uuid4().hex}.txt")
    url = blob.generate_signed_url(
        version="v4",
        expiration=300,
        method="PUT",
        content_type="text/plain",
        credentials=creds,
        api_access_endpoint=stack.env["STORAGE_EMULATOR_HOST"],
    )
    assert "X-Goog-Signature=" in url
    r = requests.put(url, data=b"hello", headers={"Content-Type": "text/plain"}, timeout=10)
    assert r.status_code in (200, 201), r.text
    assert blob.download_as_bytes() == b"hello"


# --- gateway -------------------------------------------------------------------------------


@stack_test
def test_gateway_answers_404_problem_json_for_unknown_paths(gateway_url):
    r = requests.get(f"{gateway_url}/no/such/path", headers={"X-Request-Id": "rid-123"}, timeout=10)
    assert r.status_code == 404
    assert r.headers["Content-Type"].startswith("application/problem+json")
    assert r.headers["X-Request-Id"] == "rid-123"
    body = r.json()
    assert body["status"] == 404 and body["title"] and "/no/such/path" in body["detail"]


@stack_test
def test_gateway_mounts_every_written_function(gateway_url):
    health = requests.get(f"{gateway_url}/_gateway/health", timeout=10).json()
    written = {p.parent.name for p in (ROOT / "functions").glob("*/main.py")}
    declared = {f["name"] for f in _resources()["functions"]}
    assert health["failed"] == {}, health["failed"]
    assert set(health["functions"]) == written & declared


# --- Cloud Tasks, Firestore, SMTP ------------------------------------------------------------


@stack_test
def test_tasks_emulator_lists_the_queues_of_resources_yaml(stack):
    import grpc
    from google.cloud import tasks_v2
    from google.cloud.tasks_v2.services.cloud_tasks.transports import CloudTasksGrpcTransport

    channel = grpc.insecure_channel(stack.env["CLOUD_TASKS_EMULATOR_HOST"])
    client = tasks_v2.CloudTasksClient(transport=CloudTasksGrpcTransport(channel=channel))
    parent = f"projects/{stack.project}/locations/{stack.env['TASKS_LOCATION']}"
    names = {q.name for q in client.list_queues(parent=parent)}
    channel.close()
    expected = {stack.queue_path(q["name"]) for q in _resources()["queues"]}
    assert expected and names == expected


@stack_test
def test_firestore_emulator_round_trips_a_document(stack):
    from google.cloud import firestore

    client = firestore.Client(project=stack.project)
    ref = client.collection("stack-test").document(uuid.uuid4().hex)
    ref.set({"n": 1})
    assert ref.get().to_dict() == {"n": 1}
    client.close()


@stack_test
def test_smtp_sink_writes_each_mail_as_an_eml_file(stack, wait_for_mail):
    rcpt = f"{uuid.uuid4().hex}@example.com"
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = "noreply@example.com", rcpt, "stack test"
    msg.set_content("hello from the test")
    with smtplib.SMTP(stack.env["SMTP_HOST"], int(stack.env["SMTP_PORT"]), timeout=10) as s:
        s.send_message(msg)
    got = wait_for_mail(rcpt, timeout=5)
    assert got["Subject"] == "stack test"
    assert got["X-Envelope-To"] == rcpt
    assert got.get_content().strip() == "hello from the test"


@stack_test
def test_stack_env_file_describes_the_running_stack(stack):
    env = local_stack.parse_env_file(Path(stack.env["LOCAL_STACK_ENV_FILE"]))
    required = {
        "DATABASE_URL",
        "MIGRATION_DATABASE_URL",
        "ADMIN_DATABASE_URL",
        "PUBSUB_EMULATOR_HOST",
        "FIRESTORE_EMULATOR_HOST",
        "STORAGE_EMULATOR_HOST",
        "CLOUD_TASKS_EMULATOR_HOST",
        "GCP_PROJECT",
        "BUCKET_PREFIX",
        "SIGNING_KEY_FILE",
        "SMTP_HOST",
        "SMTP_PORT",
        "MAIL_DIR",
        "STRIPE_API_BASE",
        "STRIPE_WEBHOOK_SECRET",
        "ZOOM_WEBHOOK_SECRET",
        "ZOOM_API_BASE",
        "PUBLIC_BASE_URL",
        "GATEWAY_URL",
        "ENV",
    }
    assert required <= set(env)
    assert env == stack.env
    assert "platform_app_login" in env["DATABASE_URL"]
    assert env["STRIPE_WEBHOOK_SECRET"] == "whsec_local"
    assert env["ZOOM_WEBHOOK_SECRET"] == "zoom_local"
    assert os.environ["GATEWAY_URL"] == env["GATEWAY_URL"]  # exported for in-process tests


# --- gateway routing without services ------------------------------------------------------


def _app(tag):
    def app(environ, start_response):
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [f"{tag} {environ['PATH_INFO']} {environ.get('HTTP_X_FORWARDED_FOR')}".encode()]

    return app


def _call(app, path, body=b""):
    out = {}

    def start_response(status, headers):
        out["status"], out["headers"] = status, dict(headers)

    environ = {
        "PATH_INFO": path,
        "REQUEST_METHOD": "POST",
        "REMOTE_ADDR": "10.0.0.9",
        "wsgi.input": io.BytesIO(body),
        "CONTENT_LENGTH": str(len(body)),
        "wsgi.url_scheme": "http",
    }
    data = b"".join(app(environ, start_response))
    return out["status"], out["headers"], data


def test_gateway_routes_first_match_in_resources_order():
    fns = _resources()["functions"]
    mounts = [(r, f["name"], _app(f["name"])) for f in fns for r in f.get("routes") or []]
    gw = gateway.Gateway(mounts)
    cases = {
        "/v1/auth/login": "auth",
        "/v1/me": "auth",
        "/v1/me/enrollments": "learning",
        "/v1/channels/c1/courses/k1/enroll": "learning",  # before courses' /courses/**
        "/v1/channels/c1/courses/k1": "courses",
        "/v1/channels/c1/courses": "courses",
        "/v1/channels/c1": "channels",
        "/v1/channels": "channels",
        "/ch/demo/courses/k1": "pages",
    }
    for path, fn in cases.items():
        status, _, body = _call(gw, path)
        assert status == "200 OK" and body.split()[0].decode() == fn, (path, body)
        assert body.split()[1].decode() == path  # PATH_INFO passed unchanged
    for path in ("/v1/channels/", "/v1/channels/c1/nope", "/v1/authx", "/"):
        status, headers, body = _call(gw, path)
        assert status.startswith("404"), path
        assert headers["Content-Type"] == "application/problem+json"
        assert json.loads(body)["status"] == 404


def test_gateway_health_is_answered_even_behind_a_catch_all_route():
    gw = gateway.Gateway([("/**", "hello", _app("hello"))], {"functions": ["hello"]})
    status, _, body = _call(gw, "/_gateway/health")
    assert status == "200 OK" and json.loads(body) == {"functions": ["hello"]}
    assert _call(gw, "/anything/else")[2].startswith(b"hello")


def test_gateway_appends_the_peer_to_x_forwarded_for():
    gw = gateway.Gateway([("/**", "hello", _app("hello"))])
    _, _, body = _call(gw, "/x")
    # as Google's load balancer: `<client>, <forwarding-rule IP>` (issue 16 item 2)
    assert body.decode().endswith(" 10.0.0.9, 127.0.0.1")


def test_push_filter_acks_messages_the_subscription_filter_excludes():
    sub = next(s for s in _resources()["subscriptions"] if s.get("filter"))
    app = gateway.PushFilter(_app("fn"), {sub["name"]: sub["filter"]})

    def push(event_type):
        body = {
            "subscription": f"projects/p/subscriptions/{sub['name']}",
            "message": {"data": "", "messageId": "1", "attributes": {"eventType": event_type}},
        }
        return _call(app, "/_events/fn", json.dumps(body).encode())

    assert push("OBJECT_DELETE")[0].startswith("204")
    status, _, body = push("OBJECT_FINALIZE")
    assert status == "200 OK" and body.startswith(b"fn")


def test_filter_language_subset():
    f = gateway.compile_filter(
        'NOT attributes.a = "1" AND (hasPrefix(attributes.b, "x") OR attributes:c)'
    )
    assert f({"b": "xy"}) and f({"c": ""})
    assert not f({"a": "1", "c": ""}) and not f({"b": "y"})
    with pytest.raises(gateway.FilterError):
        gateway.compile_filter("data = 1")


def test_cron_schedules_match_like_cron():
    import datetime as dt

    every = local_cron.Schedule("* * * * *")
    nightly = local_cron.Schedule("15 3 * * *")
    t = dt.datetime(2026, 1, 5, 3, 15)
    assert every.matches(t) and nightly.matches(t)
    assert not nightly.matches(t.replace(minute=16))
    for c in _resources()["crons"]:
        local_cron.Schedule(c["schedule"])  # every schedule of resources.yaml parses


# --- process hygiene without services ------------------------------------------------------


def _marked_sleeper(state: Path) -> subprocess.Popen:
    env = {**os.environ, local_stack.MARKER: str(state)}
    return subprocess.Popen(["sleep", "300"], env=env, start_new_session=True)


def test_a_new_start_kills_what_a_crashed_run_left(tmp_path):
    stack = local_stack.Stack("test", tmp_path / "state")
    stack.pids_dir.mkdir(parents=True)
    leftover = _marked_sleeper(stack.state_dir)
    stray = _marked_sleeper(stack.state_dir)  # no pid file: found by its env marker
    (stack.pids_dir / "gateway.pid").write_text(f"{leftover.pid}\n")
    unrelated = subprocess.Popen(["sleep", "300"], start_new_session=True)
    try:
        stack.cleanup_leftovers()
        assert leftover.wait(timeout=5) is not None
        assert stray.wait(timeout=5) is not None
        assert unrelated.poll() is None
        assert not list(stack.pids_dir.glob("*.pid"))
    finally:
        for p in (leftover, stray, unrelated):
            p.kill()
            p.wait()


def test_a_busy_port_is_named_not_stolen(tmp_path):
    import socket

    holder = socket.socket()
    holder.bind(("127.0.0.1", 0))
    holder.listen()
    port = holder.getsockname()[1]
    stack = local_stack.Stack(
        "test",
        tmp_path / "state",
        ports={**local_stack.free_ports(local_stack.DEV_PORTS), "smtp": port},
    )
    stack.pids_dir.mkdir(parents=True)
    try:
        with pytest.raises(local_stack.StackError, match=f"smtp port {port}"):
            stack.cleanup_leftovers()
        assert holder.fileno() != -1  # still ours
    finally:
        holder.close()


def test_the_watchdog_stops_the_stack_when_its_owner_dies(tmp_path):
    stack = local_stack.Stack("test", tmp_path / "state")
    stack.pids_dir.mkdir(parents=True)
    owner = subprocess.Popen(["sleep", "300"], start_new_session=True)
    stack.owner_pid = owner.pid
    stack.write_plan()
    child = _marked_sleeper(stack.state_dir)
    (stack.pids_dir / "smtp.pid").write_text(f"{child.pid}\n")
    stack.logs_dir.mkdir()
    stack._spawn_reaper()
    reaper = stack._procs["reaper"]
    try:
        time.sleep(0.7)
        assert child.poll() is None  # owner alive: nothing happens
        os.kill(owner.pid, signal.SIGKILL)
        owner.wait()
        assert child.wait(timeout=10) is not None
        assert reaper.wait(timeout=10) == 0
    finally:
        for p in (owner, child, reaper):
            if p.poll() is None:
                p.kill()
                p.wait()


@stack_test
def test_zoom_standin_token_endpoint_speaks_zoom_oauth_errors(stack):
    """Channels connect their own Zoom by the authorization-code flow (tests/e2e/test_live_zoom.py
    walks it); the token endpoint refuses what Zoom refuses, in Zoom's shape."""
    import base64

    base = stack.env["ZOOM_API_BASE"]
    basic = base64.b64encode(b"local_client:local_secret").decode()

    def token(auth: str, **form: str) -> requests.Response:
        return requests.post(
            f"{base}/oauth/token", data=form, headers={"Authorization": auth}, timeout=5
        )

    unknown = token(f"Basic {basic}", grant_type="authorization_code", code="nope")
    assert unknown.status_code == 400 and unknown.json()["error"] == "invalid_grant"
    stale = token(f"Basic {basic}", grant_type="refresh_token", refresh_token="nope")
    assert stale.status_code == 400 and stale.json()["error"] == "invalid_grant"
    # The platform's one app is an OAuth app: no server-to-server grant of one account.
    s2s = token(f"Basic {basic}", grant_type="account_credentials", account_id="local_account")
    assert s2s.status_code == 400 and s2s.json()["error"] == "unsupported_grant_type"
    wrong = token(
        "Basic " + base64.b64encode(b"x:y").decode(), grant_type="authorization_code", code="x"
    )
    assert wrong.status_code == 400 and wrong.json()["error"] == "invalid_client"
