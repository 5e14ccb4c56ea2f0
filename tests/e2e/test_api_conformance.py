"""Schemathesis over the served OpenAPI document (RELIABILITY.md, "API conformance").

Runs the schemathesis CLI from its own virtualenv (`make test` creates .venv-schemathesis)
against the test stack's gateway, signed in, with every check but `positive_data_acceptance`:
that one expects a 2xx for any schema-valid request, but random ids of courses, lessons or
members that do not exist are rightly 404 here.
"""

import os
import subprocess
from pathlib import Path

from tests.helpers import make_channel, signup

ROOT = Path(__file__).resolve().parents[2]
CLI = ROOT / ".venv-schemathesis" / "bin" / "schemathesis"


def test_schemathesis_finds_no_failure(gateway_url, tmp_path):
    assert CLI.exists(), "run `make test` (it installs .venv-schemathesis)"
    user = signup(gateway_url)
    make_channel(gateway_url, user)
    result = subprocess.run(
        [
            str(CLI),
            "run",
            f"{gateway_url}/v1/openapi.json",
            "--url",
            gateway_url,
            "-H",
            f"Authorization: Bearer {user.token}",
            "--checks",
            "all",
            "--exclude-checks",
            "positive_data_acceptance",
            "--max-examples",
            "10",
            "--seed",
            "20261125",
            "--workers",
            "2",
            "--report-dir",
            str(tmp_path),
            "--no-color",
        ],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=tmp_path,
        env={**os.environ, "SCHEMATHESIS_HOOKS": ""},
    )
    tail = result.stdout[-6000:]
    assert result.returncode == 0, tail
    assert "No issues found" in result.stdout or " passed" in result.stdout, tail
