"""Schemathesis over the served OpenAPI document (RELIABILITY.md, "API conformance"; issue 17).

Runs the schemathesis CLI from its own virtualenv (`make test` creates .venv-schemathesis)
against the test stack's gateway, signed in, with every check, `positive_data_acceptance`
included: a request the document calls valid must not be refused with 400/422 (a random id of
a course that does not exist is 404, which that check allows). Where the server refuses for a
reason no schema can express (a signed cursor, a start in the past, one field against
another), the operation documents the refusal, and the check is off for that operation alone:
`CHECK_EXCEPTIONS` below, each with its reason, becomes the run's schemathesis.toml. One other
check has an exception: `use_after_free` on a live session, which DELETE cancels and which
stays readable. `NOT_RUN` operations are left out of the signed-in run.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import tomllib
from pathlib import Path

from scripts.openapi import OUT
from tests.helpers import make_channel, signup

ROOT = Path(__file__).resolve().parents[2]
CLI = ROOT / ".venv-schemathesis" / "bin" / "schemathesis"

_CURSOR = "a cursor is opaque and signed: only a `next_cursor` this list answered is accepted"
_BYTES = "the limit is in UTF-8 bytes; JSON Schema counts characters"
_PAST = "a start must be in the future: time-relative"
_ENDS = "`ends_at` is compared with `starts_at` (or the stored start)"
_ORIGINS = "a redirect URL's origin must be the platform's or one the channel lists"
_ACCEPT = "positive_data_acceptance"
# (operationId, check) -> (phrase the operation's documentation holds, why no schema can say it)
CHECK_EXCEPTIONS: dict[tuple[str, str], tuple[str, str]] = {
    ("list_courses", _ACCEPT): ("`cursor`", _CURSOR),
    ("list_members", _ACCEPT): ("`cursor`", _CURSOR),
    ("audit_log", _ACCEPT): ("`cursor`", _CURSOR),
    ("list_batches", _ACCEPT): ("`cursor`", _CURSOR),
    ("list_live_sessions", _ACCEPT): ("`cursor`", _CURSOR),
    ("list_resources", _ACCEPT): ("`cursor`", _CURSOR),
    ("disputes", _ACCEPT): ("`cursor`", _CURSOR),
    ("my_enrollments", _ACCEPT): ("`cursor`", _CURSOR),
    ("list_endpoints", _ACCEPT): ("`cursor`", _CURSOR),
    ("list_deliveries", _ACCEPT): ("`cursor`", _CURSOR),
    ("search_content", _ACCEPT): ("`cursor`", _CURSOR),
    ("queue", _ACCEPT): ("`cursor`", _CURSOR),
    ("list_posts", _ACCEPT): ("`cursor`", _CURSOR),
    ("my_notifications", _ACCEPT): ("`cursor`", _CURSOR),
    ("zoom_callback", _ACCEPT): (
        "`state` is opaque and signed",
        "only the platform can sign a state",
    ),
    ("preview_template", _ACCEPT): ("`{{ holder_name }}`", "a rule on the template's text"),
    ("save_template", _ACCEPT): ("`{{ holder_name }}`", "a rule on the template's text"),
    ("moderate", _ACCEPT): (
        "`ban_user` needs `ban_days`",
        "one field is required by another's value; the target must exist",
    ),
    ("create_post", _ACCEPT): (
        "a blocked word",
        "blocked words and a new member's link limit are the channel's settings; no pattern"
        " can refuse a lone surrogate",
    ),
    ("create_space", _ACCEPT): ("one of this channel's", "the course or batch must exist"),
    ("put_analytics_settings", _ACCEPT): (
        "IANA time zone",
        "the zone must be in the IANA database (a list no pattern holds)",
    ),
    ("summary", _ACCEPT): ("366 days", "`from` and `to` are compared with each other"),
    ("export_csv", _ACCEPT): ("366 days", "`from` and `to` are compared with each other"),
    ("create_endpoint", _ACCEPT): (
        "a refused address",
        "the URL's host must resolve to a public address (looked up at request time)",
    ),
    ("schedule_live_session", _ACCEPT): ("in the past", _PAST),
    ("reschedule_live_session", _ACCEPT): ("in the past", _PAST),
    ("create_batch", _ACCEPT): ("after `starts_at`", _ENDS),
    ("update_batch", _ACCEPT): ("after `starts_at`", _ENDS),
    ("reorder_lessons", _ACCEPT): ("exactly once", "the list must be the course's own lesson ids"),
    ("login_second_factor", _ACCEPT): (
        "either `code` or `recovery_code`",
        "one field or the other, not a type",
    ),
    ("signup", _ACCEPT): ("1024 bytes", _BYTES),
    ("password_reset_confirm", _ACCEPT): ("1024 bytes", _BYTES),
    ("create_upload", _ACCEPT): ("for the purpose", "allowed content types depend on `purpose`"),
    ("on_event", _ACCEPT): ("signature", "only Stripe can sign a body: an HMAC over it"),
    ("checkout", _ACCEPT): ("`redirect_origins`", _ORIGINS),
    ("onboarding", _ACCEPT): ("`redirect_origins`", _ORIGINS),
    ("change_plan", _ACCEPT): ("`redirect_origins`", _ORIGINS),
    ("get_live_session", "use_after_free"): (
        "stays readable",
        "DELETE cancels a live session; it stays readable with status `cancelled`",
    ),
}
# operations whose callers prove themselves by other means than the bearer token
OTHER_AUTH = {
    "POST /v1/webhooks/live/zoom": "Zoom's x-zm-signature over the body (test_live_webhook.py)",
    "POST /ch/{slug}/admin/login": "the login form's CSRF token from its GET (test_admin_pages.py)",
}
# operationId -> why the signed-in run leaves it out
NOT_RUN = {
    "logout_all": "revokes every session of the signed-in user: every later request would be 401",
}


# A refusal is a refusal: 413 too. A string past a large `maxLength` (a certificate's data:
# URI logo), sent JSON-escaped, outgrows the 1 MB body limit, refused before it is read.
REFUSED = [400, 401, 403, 404, 405, 406, 409, 413, 415, 422, 428, 429]


def config_toml() -> str:
    blocks = [f"[checks.negative_data_rejection]\nexpected-statuses = {json.dumps(REFUSED)}\n"]
    for (op_id, check), (_, why) in sorted(CHECK_EXCEPTIONS.items()):
        blocks.append(
            f"# {why}\n[[operations]]\ninclude-operation-id = {json.dumps(op_id)}\n"
            f"checks.{check}.enabled = false\n"
        )
    return "\n".join(blocks)


def test_every_exception_is_documented_on_its_operation():
    spec = json.loads(OUT.read_text())
    ops = {op["operationId"]: op for item in spec["paths"].values() for op in item.values()}
    for op_id in NOT_RUN:
        assert op_id in ops, f"{op_id} is not an operation of the document"
    for (op_id, _), (phrase, why) in CHECK_EXCEPTIONS.items():
        assert op_id in ops, f"{op_id} is not an operation of the document"
        assert why
        documented = [ops[op_id].get("description", "")] + [
            r["description"] for r in ops[op_id]["responses"].values()
        ]
        assert any(phrase in text for text in documented), (op_id, phrase, documented)


def test_schemathesis_finds_no_failure(gateway_url, tmp_path):
    assert CLI.exists(), "run `make test` (it installs .venv-schemathesis)"
    user = signup(gateway_url)
    make_channel(gateway_url, user)
    config = tmp_path / "schemathesis.toml"
    config.write_text(config_toml())
    excluded = [arg for op_id in sorted(NOT_RUN) for arg in ("--exclude-operation-id", op_id)]
    result = subprocess.run(
        [
            str(CLI),
            "--config-file",
            str(config),
            "run",
            f"{gateway_url}/v1/openapi.json",
            "--url",
            gateway_url,
            "-H",
            f"Authorization: Bearer {user.token}",
            # Every check runs by default; `--checks all` here would override the config's
            # per-operation exceptions.
            *excluded,
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
    out = result.stdout
    failures = out[out.find("= FAILURES =") :] if "= FAILURES =" in out else out
    tail = failures[:20000] + "\n...\n" + out[-3000:]
    assert result.returncode == 0, tail
    assert "No issues found" in result.stdout or " passed" in result.stdout, tail
    # Signed in throughout: the token was not revoked half-way. Only operations that
    # authenticate by something no generated request can carry answer nothing but 401/403.
    refused_only = set(
        re.findall(r"^\s+- ((?:GET|POST|PUT|PATCH|DELETE) \S+)$", _auth_block(out), re.M)
    )
    assert refused_only <= set(OTHER_AUTH), tail


def _auth_block(out: str) -> str:
    """The operations schemathesis lists under its "Authentication failed" warning."""
    start = out.find("Authentication failed:")
    if start < 0:
        return ""
    end = out.find("\n\n", out.find("\n\n", start) + 2)  # the warning's lists end at a gap
    return out[start : end if end > 0 else None]


def test_the_generated_config_turns_each_check_off_for_its_operation_only():
    operations = tomllib.loads(config_toml())["operations"]
    got = {
        (o["include-operation-id"], check)
        for o in operations
        for check, setting in o["checks"].items()
        if setting == {"enabled": False}
    }
    assert got == set(CHECK_EXCEPTIONS)
    assert len(operations) == len(CHECK_EXCEPTIONS)
