"""Offline static checks of the deployment files: terraform fmt, justified checkov skips,
workflows, Firestore rules, and the Cloud Build pipeline's order."""

from __future__ import annotations

import ast
import re
import subprocess

import pytest
import yaml
from infra_support import (
    ROOT,
    TF_DIR,
    WORKFLOWS_DIR,
    comments,
    load_resources,
    parse_terraform,
    shared_tfeval,
    terraform_binary,
    the_resource,
)

SKIP = re.compile(r"checkov:skip=([A-Z0-9_]+)(?::(.*))?$")


@pytest.fixture(scope="module")
def tfeval(tmp_path_factory):
    return shared_tfeval(tmp_path_factory)


def test_terraform_is_fmt_clean():
    proc = subprocess.run(
        [terraform_binary(), "fmt", "-check", "-recursive", "-list=true", str(TF_DIR)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, f"terraform fmt would change: {proc.stdout}{proc.stderr}"


def test_every_checkov_skip_names_a_check_and_says_why():
    skips = []
    for fname, doc in parse_terraform().items():
        for text in comments(doc):
            m = SKIP.search(text.strip())
            if "checkov:skip" in text:
                assert m, f"{fname}: malformed skip comment {text!r}"
                assert re.fullmatch(r"CKV2?_[A-Z]+_\d+", m.group(1)), text
                reason = (m.group(2) or "").strip()
                assert len(reason) >= 20, f"{fname}: skip of {m.group(1)} without a reason"
                skips.append(m.group(1))
    assert skips, "the comment reader found no skip at all (is it still reading comments?)"


def test_workflows_are_valid_and_call_only_declared_functions(tfeval):
    files = sorted(WORKFLOWS_DIR.glob("*.yaml"))
    assert files, "at least one workflow"
    functions = {f["name"] for f in load_resources()["functions"]}
    workflows = tfeval.eval("local.workflows")
    assert {w["file"] for w in workflows.values()} == {f.name for f in files}
    for name, w in workflows.items():
        assert re.fullmatch(r"[a-z][a-z0-9-]{0,63}", name), name
        doc = yaml.safe_load((WORKFLOWS_DIR / w["file"]).read_text())
        assert isinstance(doc, dict) and "main" in doc and doc["main"].get("steps"), w["file"]
        assert w["calls"], f"{w['file']} calls no function"
        assert set(w["calls"]) <= functions, f"{w['file']} calls undeclared {w['calls']}"
        text = (WORKFLOWS_DIR / w["file"]).read_text()
        assert "type: OIDC" in text, f"{w['file']}: calls functions without an OIDC token"
    body = the_resource("google_workflows_workflow", "workflow")
    assert body["for_each"] == "${local.workflows}"


def test_firestore_rules_open_only_reads_of_the_projection():
    """Clients never write (the projection is the backend's), read only the paths the realtime
    projection writes (shared/realtime/rules.py), and everything else stays closed. What each
    read allows is tested against the emulator (tests/integration/realtime/test_rules.py)."""
    rules = (TF_DIR / "firestore.rules").read_text()
    ruleset = the_resource("google_firebaserules_ruleset", "firestore")
    content = ruleset["source"][0]["files"][0]["content"]
    assert "firestore.rules" in content and "file(" in content
    code = "\n".join(line.split("//", 1)[0] for line in rules.splitlines())
    allows = re.findall(r"allow\s+([a-z, ]+):\s*if\s+([^;]+);", code)
    assert allows, "no allow statements?"
    for verbs, condition in allows:
        if "write" in verbs or "create" in verbs or "update" in verbs or "delete" in verbs:
            assert condition.strip() == "false", f"clients may {verbs}: {condition}"
    matches = re.findall(r"match\s+(/\S+)\s*\{", code)
    assert set(matches) == {
        "/databases/{database}/documents",
        "/channels/{channelId}/spaces/{spaceId}/posts/{postId}",
        "/comments/{commentId}",
        "/users/{userId}/notifications/{notificationId}",
        "/{document=**}",
    }
    assert re.search(r"match /\{document=\*\*\}\s*\{\s*allow read, write: if false;", code)


def test_cloudbuild_lints_tests_packages_plans_and_applies_only_on_main():
    doc = yaml.safe_load((ROOT / "cloudbuild.yaml").read_text())
    steps = doc["steps"]
    ids = [s["id"] for s in steps]
    text = {
        s["id"]: "\n".join([s.get("entrypoint", ""), *map(str, s.get("args", []))]) for s in steps
    }

    def step(fragment: str) -> int:
        found = [i for i, s in enumerate(ids) if fragment in text[s]]
        assert found, f"no step runs {fragment!r}"
        return found[0]

    lint, test = step("scripts/lint.sh"), step("make test")
    package = step("scripts/package.py")
    init = step("-backend-config=bucket=")
    plan = ids.index("tf-plan")
    assert text["tf-plan"].split("\n")[1] == "plan"
    migrate = step("gcloud run jobs execute migrate")
    apply_all = max(i for i, s in enumerate(ids) if "terraform apply" in text[s])
    assert lint < package and test < package < plan and init < plan < migrate < apply_all
    for s in ids:
        if "terraform apply" in text[s] or "jobs execute" in text[s] or "docker push" in text[s]:
            assert 'if [ "${BRANCH_NAME}" != main ]' in text[s], f"{s} runs on every branch"
    tf = parse_terraform()["versions.tf"]["terraform"][0]
    assert "backend" in tf


@pytest.mark.parametrize("script", ["stack.py", "gateway.py", "local_cron.py"])
def test_the_local_stack_builds_from_resources_yaml(script):
    """The other half of "cannot drift": the local stack reads the same list Terraform reads."""
    path = ROOT / "scripts" / script
    if not path.is_file():
        pytest.skip(f"scripts/{script} does not exist")
    tree = ast.parse(path.read_text())
    constants = {
        n.value for n in ast.walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, str)
    }
    assert "resources.yaml" in constants, f"scripts/{script} does not read shared/resources.yaml"


def test_lint_script_runs_every_static_check():
    script = (ROOT / "scripts" / "lint.sh").read_text()
    for fragment in (
        "ruff check",
        "ruff format --check",
        "terraform fmt -check -recursive terraform",
        'checkov" -d terraform --framework terraform --skip-download',
        "yamllint",
        "cloudbuild.yaml workflows/",
        ".venv-checkov",
    ):
        assert fragment in script, fragment
