"""Cloud Workflows: start an execution of one of workflows/*.yaml.

In the cloud, through the Workflow Executions REST API with the runtime service account
(it needs roles/workflows.invoker). Locally there is no emulator: the execution runs in a
daemon thread of this process, interpreted by scripts/local_workflows.py with the same YAML,
`FN_<FUNCTION>_URL` pointing at the local gateway. A local execution lives as long as the
process; the steps our workflows call are idempotent and the job rows say how far they got,
so a lost execution is resumed by starting it again.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import threading
import uuid
from pathlib import Path
from types import ModuleType
from typing import Any

from shared.platform.config import settings

log = logging.getLogger("workflows")
ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS_DIR = ROOT / "workflows"
API = "https://workflowexecutions.googleapis.com/v1"

_session: Any = None
_runner: ModuleType | None = None
_lock = threading.Lock()
# Local executions: name -> {"state", "result" | "error"} (tests and the bench read it).
executions: dict[str, dict[str, Any]] = {}


def start(workflow: str, argument: dict[str, Any]) -> str:
    """Start `workflow` (the file workflows/<workflow with _>.yaml, deployed under the name
    with dashes) with `argument`; returns the execution's name."""
    if settings().is_local:
        return _start_local(workflow, argument)
    return _start_cloud(workflow, argument)


def _start_cloud(workflow: str, argument: dict[str, Any]) -> str:
    global _session
    s = settings()
    with _lock:
        if _session is None:
            import google.auth
            from google.auth.transport.requests import AuthorizedSession

            creds, _ = google.auth.default(
                scopes=["https://www.googleapis.com/auth/cloud-platform"]
            )
            _session = AuthorizedSession(creds)
    url = (
        f"{API}/projects/{s.gcp_project}/locations/{s.region}/workflows/"
        f"{workflow.replace('_', '-')}/executions"
    )
    r = _session.post(url, json={"argument": json.dumps(argument)}, timeout=30)
    r.raise_for_status()
    return str(r.json()["name"])


def _local_runner() -> ModuleType:
    """scripts/local_workflows.py, loaded by path: it is a development tool, never deployed."""
    global _runner
    with _lock:
        if _runner is None:
            path = ROOT / "scripts" / "local_workflows.py"
            spec = importlib.util.spec_from_file_location("local_workflows", path)
            if spec is None or spec.loader is None:
                raise RuntimeError(f"cannot load {path}")
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
            _runner = module
        return _runner


def _start_local(workflow: str, argument: dict[str, Any]) -> str:
    runner = _local_runner()
    path = WORKFLOWS_DIR / f"{workflow.replace('-', '_')}.yaml"
    definition = runner.load(path)
    env = {"GATEWAY_URL": settings().public_base_url.rstrip("/")}
    import os

    env.update({k: v for k, v in os.environ.items() if k.startswith("FN_")})
    name = f"local/{workflow}/executions/{uuid.uuid4()}"
    executions[name] = {"state": "ACTIVE"}

    def execute() -> None:
        try:
            result = runner.Runner(definition, env=env).run(argument)
            executions[name] = {"state": "SUCCEEDED", "result": result}
        except Exception as e:  # a failed execution is logged, as the service would
            log.warning("workflow %s failed: %s", name, e)
            executions[name] = {"state": "FAILED", "error": str(e)}

    threading.Thread(target=execute, name=f"workflow-{workflow}", daemon=True).start()
    return name
