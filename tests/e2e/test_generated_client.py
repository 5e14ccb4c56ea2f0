"""A Python client generated from the served OpenAPI document works (issue 17 item 1).

openapi-python-client (its own virtualenv, `.venv-openapi-client`, installed by `make test`)
generates a client from GET /v1/openapi.json; the generator must print no warning (a warning
means a schema, response or endpoint was dropped from the client). Then a script run with the
generator's interpreter (it has the client's runtime: httpx, attrs, python-dateutil) walks
signup -> channel -> course -> lesson -> publish -> enroll -> complete -> progress using the
generated functions and models only, and prints what it saw as JSON.
"""

from __future__ import annotations

import json
import os
import subprocess
import textwrap
from pathlib import Path

import pytest
import requests

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]
VENV = ROOT / ".venv-openapi-client" / "bin"
PACKAGE = "creator_platform_api_client"

# The generator's own post-hooks run ruff on the output; the client is read, not linted. It
# knows JSON, text and binary media types only: a verifiable credential (a JWT) is text.
CONFIG = f"""\
project_name_override: {PACKAGE}
package_name_override: {PACKAGE}
post_hooks: []
# The generator knows JSON, text and octet-stream bodies: a credential is text, a PDF is bytes.
content_type_overrides:
  application/vc+jwt: text/plain
  application/pdf: application/octet-stream
"""

FLOW = textwrap.dedent(
    """
    import json, sys, uuid

    from creator_platform_api_client import AuthenticatedClient, Client
    from creator_platform_api_client.api.channels import create_channel
    from creator_platform_api_client.api.courses import (
        create_course, create_lesson, publish_course,
    )
    from creator_platform_api_client.api.identity import signup
    from creator_platform_api_client.api.learning import complete, course_progress, enroll
    from creator_platform_api_client.models import (
        ChannelIn, CourseIn, EnrollIn, LessonIn, LessonInKind, Problem, SignupIn,
    )

    base = sys.argv[1]
    seen = {}

    def ok(resp, status, what):
        assert resp.status_code == status, (what, resp.status_code, resp.content[:500])
        assert not isinstance(resp.parsed, Problem), (what, resp.parsed)
        assert resp.headers.get("x-request-id"), what
        return resp.parsed

    def user(name):
        email = f"gen-{uuid.uuid4().hex[:12]}@example.com"
        body = SignupIn(email=email, password="correct horse battery staple", display_name=name)
        tokens = ok(signup.sync_detailed(client=Client(base_url=base), body=body), 201, "signup")
        return AuthenticatedClient(base_url=base, token=tokens.access_token)

    owner = user("Owner")
    slug = "gen-" + uuid.uuid4().hex[:10]
    channel = ok(
        create_channel.sync_detailed(
            client=owner, body=ChannelIn(slug=slug, name="Generated"),
            idempotency_key=uuid.uuid4().hex,
        ),
        201, "create_channel",
    )
    course = ok(
        create_course.sync_detailed(
            channel.id, client=owner, body=CourseIn(title="Client course")
        ),
        201, "create_course",
    )
    lesson = ok(
        create_lesson.sync_detailed(
            channel.id, course.id, client=owner,
            body=LessonIn(title="Read me", kind=LessonInKind.TEXT, body="Hello"),
        ),
        201, "create_lesson",
    )
    published = ok(
        publish_course.sync_detailed(channel.id, course.id, client=owner), 200, "publish"
    )
    seen["course_status"] = str(published.status.value)

    student = user("Student")
    enrolled = ok(
        enroll.sync_detailed(channel.id, course.id, client=student, body=EnrollIn()),
        201, "enroll",
    )
    seen["enrollment"] = [enrolled.course_id == course.id, enrolled.status.value]
    again = enroll.sync_detailed(channel.id, course.id, client=student, body=EnrollIn())
    assert isinstance(again.parsed, Problem), again.content
    seen["second_enroll"] = [again.status_code, again.parsed.status]

    done = ok(complete.sync_detailed(channel.id, lesson.id, client=student), 200, "complete")
    seen["completed"] = [done.completed, done.course_completed]
    progress = ok(
        course_progress.sync_detailed(channel.id, course.id, client=student), 200, "progress"
    )
    seen["progress"] = [progress.completed_lessons, progress.total_lessons, progress.percent]
    print(json.dumps(seen))
    """
)


def test_generated_client_has_no_warning_and_runs_the_learning_journey(gateway_url, tmp_path):
    generator = VENV / "openapi-python-client"
    assert generator.exists(), "run `make test` (it installs .venv-openapi-client)"
    spec = requests.get(f"{gateway_url}/v1/openapi.json", timeout=10)
    assert spec.status_code == 200
    (tmp_path / "openapi.json").write_bytes(spec.content)
    (tmp_path / "config.yaml").write_text(CONFIG)
    env = {**os.environ, "NO_COLOR": "1"}
    gen = subprocess.run(
        [
            str(generator),
            "generate",
            "--path",
            "openapi.json",
            "--config",
            "config.yaml",
            "--meta",
            "none",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
        env=env,
    )
    out = gen.stdout + gen.stderr
    assert gen.returncode == 0, out[-4000:]
    assert "warning" not in out.lower(), out[-6000:]
    assert (tmp_path / PACKAGE / "api" / "courses" / "create_course.py").exists(), out
    (tmp_path / "flow.py").write_text(FLOW)
    run = subprocess.run(
        [str(VENV / "python"), "flow.py", gateway_url],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
        env={**env, "PYTHONPATH": str(tmp_path)},
    )
    assert run.returncode == 0, run.stderr[-4000:]
    seen = json.loads(run.stdout.strip().splitlines()[-1])
    assert seen == {
        "course_status": "published",
        "enrollment": [True, "active"],
        "second_enroll": [409, 409],
        "completed": [True, True],
        "progress": [1, 1, 100],
    }
