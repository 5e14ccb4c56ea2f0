"""The code, shared/resources.yaml and Terraform agree.

- every functions/<name>/ is declared, every declared function has its directory, and each
  main.py defines its entry point with the signature its trigger needs;
- every topic, queue, bucket and subscription the code names (settings fields such as
  domain_events_topic, string arguments of bucket_key/queue/topic parameters) is declared;
- every secret Settings reads is declared, in resources.yaml and in Terraform;
- every env var Terraform sets is a Settings field;
- each function's service account gets what its code can reach, and (for secrets, topics,
  Firestore and URL signing) nothing more.
"""

from __future__ import annotations

import ast
import json

import pytest
from infra_support import (
    CONFIG_PY,
    FUNCTIONS_DIR,
    ROOT,
    SettingsModel,
    function_dirs,
    imported_modules,
    load_resources,
    named_resources,
    parse_py,
    python_files,
    reachable_files,
    secrets_read,
    shared_tfeval,
)

CODE_DIRS = (ROOT / "shared", FUNCTIONS_DIR)
DECORATORS = {
    "http": "functions_framework.http",
    "task": "functions_framework.http",
    "pubsub": "functions_framework.cloud_event",
}


@pytest.fixture(scope="module")
def resources():
    return load_resources()


@pytest.fixture(scope="module")
def tfeval(tmp_path_factory):
    return shared_tfeval(tmp_path_factory)


@pytest.fixture(scope="module")
def model():
    return SettingsModel()


@pytest.fixture(scope="module")
def access(tfeval):
    return tfeval.eval("local.function_access")


def declared_names(resources) -> dict[str, set[str]]:
    return {
        "functions": {f["name"] for f in resources["functions"]},
        "buckets": {b["key"] for b in resources["buckets"]},
        "topics": {t["name"] for t in resources["topics"]},
        "subscriptions": {s["name"] for s in resources["subscriptions"]},
        "queues": {q["name"] for q in resources["queues"]},
        "crons": {c["name"] for c in resources["crons"]},
        "secrets": set(resources["secrets"]),
    }


# --- functions/ <-> resources.yaml ---------------------------------------------------------------


def test_every_function_directory_is_declared(resources):
    declared = declared_names(resources)["functions"]
    undeclared = set(function_dirs()) - declared
    assert not undeclared, (
        f"functions/{sorted(undeclared)} have no entry in shared/resources.yaml, so neither "
        "the local stack nor Terraform deploys them"
    )
    for d in sorted(p for p in FUNCTIONS_DIR.iterdir() if p.is_dir()):
        if d.name != "__pycache__" and not d.name.startswith("."):
            assert (d / "main.py").is_file(), f"functions/{d.name}/ has no main.py"


def test_every_declared_function_has_its_directory(resources):
    missing = sorted(
        f["name"]
        for f in resources["functions"]
        if not (FUNCTIONS_DIR / f["name"] / "main.py").is_file()
    )
    assert not missing, f"declared in resources.yaml, no functions/<name>/main.py: {missing}"


def _binding_signature(tree: ast.Module, entry_point: str) -> str | None:
    """How main.py binds `entry_point` at module level: the functions_framework decorator of a
    def, or the functions_framework wrapper it is assigned from (`x = functions_framework.http(
    api)`). None when the name is not bound."""

    def dotted(node: ast.AST) -> str:
        return ast.unparse(node.func if isinstance(node, ast.Call) else node)

    found = None
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and node.name == entry_point:
            found = next(
                (dotted(d) for d in node.decorator_list if "functions_framework" in dotted(d)),
                "",
            )
        elif isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == entry_point for t in node.targets
        ):
            value = node.value
            found = dotted(value) if isinstance(value, ast.Call) else ""
    return found


@pytest.mark.parametrize("name", function_dirs())
def test_entry_point_is_defined_with_the_signature_of_its_trigger(resources, name):
    spec = {f["name"]: f for f in resources["functions"]}.get(name)
    if spec is None:
        pytest.fail(f"functions/{name} is not declared in resources.yaml")
    tree = parse_py(FUNCTIONS_DIR / name / "main.py")
    signature = _binding_signature(tree, spec["entry_point"])
    assert signature is not None, f"functions/{name}/main.py does not define {spec['entry_point']}"
    expected = DECORATORS[spec["trigger"]]
    assert signature == expected, (
        f"{name}.{spec['entry_point']}: bound through {signature or 'nothing'}, its "
        f"{spec['trigger']} trigger needs {expected}"
    )


# --- names in the code <-> resources.yaml --------------------------------------------------------


def test_settings_resource_fields_name_declared_resources(resources, model):
    declared = declared_names(resources)
    fields = model.resource_fields()
    assert "domain_events_topic" in fields, "the scanner no longer sees the events topic field"
    for field, (kind, default) in fields.items():
        assert default in declared[kind], (
            f"Settings.{field} defaults to {default!r}, not a {kind[:-1]} of resources.yaml"
        )


def test_every_resource_name_the_code_passes_is_declared(resources):
    files = python_files(*CODE_DIRS)
    found = named_resources(files, files)
    assert any(r.kind == "buckets" for r in found), "the scanner found no bucket use at all"
    declared = declared_names(resources)
    unknown = [r for r in found if r.name not in declared[r.kind]]
    assert not unknown, "names not in resources.yaml: " + ", ".join(
        f"{r.kind[:-1]} {r.name!r} at {r.where}" for r in unknown
    )


def test_crons_target_declared_functions(resources):
    functions = declared_names(resources)["functions"]
    for c in resources["crons"]:
        assert c["function"] in functions, c
    for s in resources["subscriptions"]:
        if s.get("push_function"):
            assert s["push_function"] in functions, s


# --- secrets -------------------------------------------------------------------------------------


def test_every_secret_settings_reads_is_declared_and_vice_versa(resources, model):
    read = {f.upper() for f in model.secret_fields}
    declared = set(resources["secrets"])
    assert read - declared == set(), f"Settings reads undeclared secrets {read - declared}"
    assert declared - read == set(), f"resources.yaml declares unread secrets {declared - read}"


def test_every_declared_secret_is_a_terraform_secret(resources, tfeval):
    assert set(tfeval.eval("local.secrets")) == set(resources["secrets"])


# --- env vars ------------------------------------------------------------------------------------


def test_terraform_env_vars_are_settings_fields(tfeval, model):
    env = tfeval.eval_many(
        {
            "settings": "local.function_settings_env",
            "runtime": "local.function_runtime_env",
            "prefix": "local.bucket_prefix",
        }
    )
    names = model.env_names()
    secrets = {f.upper() for f in model.secret_fields}
    for fn, values in env["settings"].items():
        unknown = set(values) - names
        assert not unknown, f"{fn}: env vars no Settings field reads: {unknown}"
        assert not set(values) & secrets, f"{fn}: a secret as a plain env var"
        assert values["ENV"] == "prod", "cloud functions must not run with local defaults"
        assert values["BUCKET_PREFIX"] == env["prefix"]
        assert values["CLOUD_SQL_INSTANCE"] and values["DB_IAM_USER"].endswith(".iam")
        assert int(values["DB_POOL_SIZE"]) >= 1
    tasks = {f["name"] for f in load_resources()["functions"] if f["trigger"] == "task"}
    common = env["settings"][next(iter(env["settings"]))]
    targets = json.loads(common["TASK_TARGETS"])
    assert set(targets) == tasks, "TASK_TARGETS must name every task function"
    for fn, url in targets.items():
        assert url.startswith("https://") and url.endswith("/" + fn.replace("_", "-")), url
    assert common["TASKS_INVOKER_SERVICE_ACCOUNT"].startswith("tasks-invoker@")
    for fn, values in env["runtime"].items():
        assert not set(values) & names, f"{fn}: runtime env vars shadow Settings fields"


# --- per-function least privilege ----------------------------------------------------------------


def test_access_map_names_declared_resources(resources, access):
    declared = declared_names(resources)
    assert set(access) == declared["functions"]
    for fn, a in access.items():
        assert set(a["secrets"]) <= declared["secrets"], fn
        assert set(a["topics"]) <= declared["topics"], fn
        assert set(a["queues"]) <= declared["queues"], fn
        assert set(a["buckets"]) <= declared["buckets"], fn
        assert set(a["buckets"].values()) <= {"read", "write", "delete"}, fn


@pytest.mark.parametrize("name", function_dirs())
def test_function_mounts_exactly_the_secrets_its_code_reads(name, model, access):
    files = reachable_files(name)
    assert CONFIG_PY in files, f"{name} does not reach shared/platform/config.py?"
    needed = secrets_read(files, model)
    mounted = set(access[name]["secrets"])
    assert needed <= mounted, (
        f"{name} reads {sorted(needed - mounted)} but does not mount it: in the cloud it would "
        "run on the local default. Add it to function_access_overrides in terraform/locals.tf."
    )
    assert mounted <= needed, (
        f"{name} mounts {sorted(mounted - needed)} that its code never reads (least privilege)"
    )


@pytest.mark.parametrize("name", function_dirs())
def test_function_may_touch_what_its_code_names(name, model, access):
    files = reachable_files(name)
    every = python_files(*CODE_DIRS)
    granted = access[name]
    modules = imported_modules(files)

    buckets = {r.name for r in named_resources(files, every) if r.kind == "buckets"}
    assert buckets <= set(granted["buckets"]), f"{name} uses buckets {buckets}"
    queues = {r.name for r in named_resources(files, every) if r.kind == "queues"}
    assert queues <= set(granted["queues"]), f"{name} uses queues {queues}"

    # A topic is published to when a module that imports the Pub/Sub client names its field.
    published = set()
    fields = model.resource_fields()
    for path in files:
        if path == CONFIG_PY or not any("pubsub" in m for m in imported_modules([path])):
            continue
        attrs = {n.attr for n in ast.walk(parse_py(path)) if isinstance(n, ast.Attribute)}
        published |= {fields[a][1] for a in attrs & set(fields) if fields[a][0] == "topics"}
    assert published == set(granted["topics"]), (
        f"{name} publishes to {sorted(published)}, may publish to {sorted(granted['topics'])}"
    )

    uses_firestore = any(m.startswith("google.cloud.firestore") for m in modules)
    assert granted["firestore"] == uses_firestore, f"{name}: firestore access"

    # V4 URLs, or JWTs (Firebase custom tokens) through IAM signBlob: both sign as itself.
    signs = any(
        isinstance(n, ast.Attribute) and n.attr in ("generate_signed_url", "Signer")
        for p in files
        for n in ast.walk(parse_py(p))
    )
    assert granted["sign_urls"] == signs, f"{name}: signs URLs: {signs}"
