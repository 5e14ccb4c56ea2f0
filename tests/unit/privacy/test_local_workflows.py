"""scripts/local_workflows.py: the Workflows syntax our YAML uses, run against a real local
HTTP server; errors, retries and `except` as the service does them."""

from __future__ import annotations

import json
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "scripts"))
import local_workflows as lw

ROOT = Path(__file__).resolve().parents[3]


class Server:
    def __init__(self) -> None:
        self.calls: list[tuple[str, str, dict]] = []
        self.fail_first = 0
        self.status = 200
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *a):  # quiet
                pass

            def _answer(self) -> None:
                n = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(n) or b"null")
                outer.calls.append((self.command, self.path, body))
                if outer.fail_first > 0:
                    outer.fail_first -= 1
                    code, out = 503, {"error": "busy"}
                else:
                    code = outer.status
                    step = (body or {}).get("step")
                    out = {"echo": body, "steps": ["a", "b", "c"] if step == "plan" else []}
                data = json.dumps(out).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_POST = do_GET = _answer

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()


@pytest.fixture
def server():
    s = Server()
    yield s
    s.httpd.shutdown()


def runner(text: str, server: Server, **kw) -> lw.Runner:
    return lw.Runner(
        yaml.safe_load(text), env={"GATEWAY_URL": server.url}, sleep=lambda s: None, **kw
    )


def test_assign_switch_for_and_return():
    wf = """
main:
  params: [args]
  steps:
    - init:
        assign:
          - total: 0
          - names: []
          - m: {}
          - m.k: ${args.x * 2}
    - loop:
        for:
          value: v
          in: ${args.items}
          steps:
            - add:
                assign:
                  - total: ${total + v}
                  - names: ${list.concat(names, "n" + string(v))}
    - check:
        switch:
          - condition: ${total > 5 and not (total == 100)}
            next: big
        next: small
    - small:
        return: small
    - big:
        return:
          total: ${total}
          names: ${names}
          k: ${m.k}
          got: ${map.get(args, "missing")}
          d: ${default(map.get(args, "missing"), "fallback")}
"""
    out = lw.Runner(yaml.safe_load(wf), env={}).run({"x": 4, "items": [1, 2, 3]})
    assert out == {"total": 6, "names": ["n1", "n2", "n3"], "k": 8, "got": None, "d": "fallback"}


def test_http_calls_and_retry_on_a_retryable_status(server):
    server.fail_first = 2
    wf = """
main:
  steps:
    - call_it:
        try:
          call: http.post
          args:
            url: ${sys.get_env("FN_PRIVACY_WORKER_URL") + "/_internal/x"}
            auth:
              type: OIDC
            body:
              step: plan
          result: r
        retry: ${http.default_retry}
    - done:
        return: ${r.body.steps}
"""
    assert runner(wf, server).run() == ["a", "b", "c"]
    assert len(server.calls) == 3 and server.calls[-1][1] == "/_internal/x"


def test_a_client_error_is_not_retried_and_except_sees_it(server):
    server.status = 404
    wf = """
main:
  steps:
    - call_it:
        try:
          call: http.get
          args:
            url: ${sys.get_env("GATEWAY_URL") + "/nope"}
          result: r
        retry:
          predicate: ${http.default_retry_predicate}
          max_retries: 3
          backoff:
            initial_delay: 1
            max_delay: 2
            multiplier: 2
        except:
          as: e
          steps:
            - handled:
                return: ${e.code}
"""
    assert runner(wf, server).run() == 404
    assert len(server.calls) == 1


def test_raise_fails_the_execution():
    wf = """
main:
  steps:
    - boom:
        raise:
          message: nope
"""
    with pytest.raises(lw.WorkflowError) as e:
        lw.Runner(yaml.safe_load(wf), env={}).run()
    assert e.value.value == {"message": "nope"}


def test_the_privacy_export_workflow_runs_every_planned_step_in_order(server):
    r = lw.Runner(
        lw.load(ROOT / "workflows/privacy_export.yaml"),
        env={"GATEWAY_URL": server.url},
        sleep=lambda s: None,
    )
    out = r.run({"job_id": "j", "user_id": "u"})
    assert out == {"job_id": "j", "steps": ["a", "b", "c"]}
    steps = [c[2]["step"] for c in server.calls]
    assert steps == ["plan", "a", "b", "c"]
    assert all(c[1] == "/_internal/privacy_worker" for c in server.calls)
    assert all(c[2]["job_id"] == "j" and c[2]["user_id"] == "u" for c in server.calls)


def test_a_failing_step_marks_the_job_failed_then_fails(server):
    wf = lw.load(ROOT / "workflows/privacy_erasure.yaml")
    calls = []

    class Session:
        def request(self, method, url, **kw):
            calls.append(kw["json"]["step"])
            import requests

            resp = requests.Response()
            resp.status_code = 500 if kw["json"]["step"] == "b" else 200
            body = {"steps": ["a", "b", "c"]} if kw["json"]["step"] == "plan" else {}
            resp._content = json.dumps(body).encode()
            return resp

    r = lw.Runner(wf, env={"GATEWAY_URL": "http://x"}, session=Session(), sleep=lambda s: None)
    with pytest.raises(lw.WorkflowError):
        r.run({"job_id": "j", "user_id": "u"})
    assert calls == ["plan", "a", "b", "fail"]


def test_every_workflow_in_the_tree_loads_and_has_a_main():
    for path in (ROOT / "workflows").glob("*.yaml"):
        assert "main" in lw.load(path), path
