"""Helpers of the infrastructure consistency tests.

Terraform is parsed with python-hcl2 (blocks, attributes, expressions as written). The values
that decide what exists (for_each maps, entry points, env vars, routes) are evaluated by
Terraform itself: terraform/locals.tf is built only from shared/resources.yaml and variables, so
`terraform console` evaluates it offline in a scratch copy of the module, with no provider.
"""

from __future__ import annotations

import ast
import base64
import importlib.util
import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import hcl2
import yaml

ROOT = Path(__file__).resolve().parents[2]
TF_DIR = ROOT / "terraform"
FUNCTIONS_DIR = ROOT / "functions"
WORKFLOWS_DIR = ROOT / "workflows"
RESOURCES_YAML = ROOT / "shared" / "resources.yaml"

# Values of the variables without defaults, for evaluating locals.
TF_TEST_VARS = {
    "project": "test-project",
    "domain": "api.test.example",
    "media_domain": "media.test.example",
}


def load_resources() -> dict[str, Any]:
    return yaml.safe_load(RESOURCES_YAML.read_text(encoding="utf-8"))


# --- HCL -----------------------------------------------------------------------------------------


def unquote(s: Any) -> Any:
    """A literal as python-hcl2 gives it ('"text"') -> text. Labels are literals too."""
    if isinstance(s, str) and len(s) >= 2 and s[0] == '"' and s[-1] == '"':
        return s[1:-1]
    return s


def is_expression(v: Any) -> bool:
    return isinstance(v, str) and v.startswith("${") and v.endswith("}")


def hcl_expr(v: Any) -> str:
    """A value as python-hcl2 gives it -> HCL expression source for `terraform console`."""
    if is_expression(v):
        return v[2:-1]
    if isinstance(v, str):
        return v  # a quoted literal or template, already in HCL syntax
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int | float):
        return repr(v)
    if isinstance(v, list):
        return "[" + ", ".join(hcl_expr(x) for x in v) + "]"
    if isinstance(v, dict):
        items = [f"{k} = {hcl_expr(x)}" for k, x in v.items() if not k.startswith("__")]
        return "{" + ", ".join(items) + "}"
    raise TypeError(f"cannot render {v!r}")


@cache
def parse_terraform() -> dict[str, dict[str, Any]]:
    """File name -> parsed HCL of every terraform/*.tf."""
    out = {}
    for path in sorted(TF_DIR.glob("*.tf")):
        with path.open(encoding="utf-8") as f:
            out[path.name] = hcl2.load(f)
    return out


def resources_of_type(rtype: str) -> list[tuple[str, dict[str, Any], str]]:
    """(resource name, body, file) of every `resource "<rtype>" "<name>"` block."""
    found = []
    for fname, doc in parse_terraform().items():
        for block in doc.get("resource", []):
            for t, named in block.items():
                if unquote(t) != rtype:
                    continue
                for name, body in named.items():
                    found.append((unquote(name), body, fname))
    return found


def the_resource(rtype: str, name: str) -> dict[str, Any]:
    matches = [b for n, b, _ in resources_of_type(rtype) if n == name]
    assert len(matches) == 1, f'expected one resource "{rtype}" "{name}", found {len(matches)}'
    return matches[0]


def all_resource_types() -> set[str]:
    types = set()
    for doc in parse_terraform().values():
        for block in doc.get("resource", []):
            types.update(unquote(t) for t in block)
    return types


def block(body: dict[str, Any], name: str) -> dict[str, Any]:
    """The single nested block `name` of a resource body."""
    blocks = body.get(name)
    assert isinstance(blocks, list) and len(blocks) == 1, f"expected one `{name}` block"
    return blocks[0]


def dynamic_block(body: dict[str, Any], name: str) -> dict[str, Any]:
    """`dynamic "<name>" { for_each = ..., content { ... } }` of a body."""
    for d in body.get("dynamic", []):
        for label, spec in d.items():
            if unquote(label) == name:
                return spec
    raise AssertionError(f'no dynamic "{name}" block')


def comments(node: Any) -> list[str]:
    """Every comment text anywhere under a parsed HCL node."""
    found: list[str] = []
    if isinstance(node, dict):
        for k, v in node.items():
            if k in ("__comments__", "__inline_comments__"):
                found.extend(c["value"] if isinstance(c, dict) else str(c) for c in v)
            else:
                found.extend(comments(v))
    elif isinstance(node, list):
        for x in node:
            found.extend(comments(x))
    return found


# --- Terraform evaluation ------------------------------------------------------------------------


def terraform_binary() -> str:
    found = shutil.which("terraform") or (
        "/usr/local/bin/terraform" if Path("/usr/local/bin/terraform").exists() else None
    )
    if not found:
        raise AssertionError(
            "terraform is not installed: the consistency tests evaluate terraform/locals.tf "
            "with `terraform console` (offline, no provider needed)"
        )
    return found


class TerraformEval:
    """Evaluates expressions against terraform/locals.tf + variables.tf in a scratch module."""

    def __init__(self, scratch: Path, variables: dict[str, str] | None = None) -> None:
        module = scratch / "terraform"
        module.mkdir(parents=True)
        for name in ("locals.tf", "variables.tf"):
            shutil.copy(TF_DIR / name, module / name)
        # locals.tf reads ../shared/resources.yaml and ../workflows/*.yaml
        (scratch / "shared").mkdir()
        shutil.copy(RESOURCES_YAML, scratch / "shared" / "resources.yaml")
        if WORKFLOWS_DIR.is_dir():
            shutil.copytree(WORKFLOWS_DIR, scratch / "workflows")
        else:
            (scratch / "workflows").mkdir()
        self.module = module
        self.scratch = scratch
        self.variables = dict(TF_TEST_VARS, **(variables or {}))
        cli_config = scratch / "terraformrc"
        cli_config.write_text("")
        self.env = dict(os.environ, CHECKPOINT_DISABLE="1", TF_CLI_CONFIG_FILE=str(cli_config))
        self.env.pop("TF_DATA_DIR", None)

    def eval_many(self, exprs: dict[str, str]) -> dict[str, Any]:
        body = ", ".join(f'"{k}" = ({v})' for k, v in exprs.items())
        # base64: console prints strings HCL-escaped; base64 needs no unescaping
        line = f"base64encode(jsonencode({{{body}}}))\n"
        cmd = [terraform_binary(), "console"]
        for k, v in self.variables.items():
            cmd.append(f"-var={k}={v}")
        proc = subprocess.run(
            cmd,
            input=line,
            capture_output=True,
            text=True,
            cwd=self.module,
            env=self.env,
            timeout=120,
            check=False,
        )
        if proc.returncode != 0:
            raise AssertionError(
                f"terraform console failed on locals.tf:\n{proc.stderr}\nexpressions: {exprs}"
            )
        out = proc.stdout.strip().strip('"')
        return json.loads(base64.b64decode(out))

    def eval(self, expr: str) -> Any:
        return self.eval_many({"v": expr})["v"]

    @staticmethod
    def per_instance(for_each: str, expr: str, *, iterator: str = "each") -> str:
        """Expression giving {instance key: expr} with `<iterator>.key/.value` bound, as
        Terraform binds `each` in a resource (or the block name in a dynamic block)."""
        return (
            f"{{ for k__, {iterator} in {{ for k2__, v2__ in ({for_each}) : k2__ => "
            f"{{ key = k2__, value = v2__ }} }} : k__ => ({expr}) }}"
        )


# --- scripts/package.py --------------------------------------------------------------------------


@cache
def package_module() -> Any:
    spec = importlib.util.spec_from_file_location("infra_package", ROOT / "scripts" / "package.py")
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    sys.modules["infra_package"] = mod  # dataclasses resolve annotations through sys.modules
    spec.loader.exec_module(mod)
    return mod


_TFEVAL: list[TerraformEval] = []


def shared_tfeval(tmp_path_factory: Any) -> TerraformEval:
    """One scratch module per test session (fixtures live in the test modules, so that the
    tests also run with --noconftest)."""
    if not _TFEVAL:
        _TFEVAL.append(TerraformEval(tmp_path_factory.mktemp("tf-locals")))
    return _TFEVAL[0]


def function_dirs() -> list[str]:
    """Names of functions/<name>/ directories that hold a main.py."""
    if not FUNCTIONS_DIR.is_dir():
        return []
    return sorted(p.parent.name for p in FUNCTIONS_DIR.glob("*/main.py"))


# --- what the code names -------------------------------------------------------------------------

CONFIG_PY = ROOT / "shared" / "platform" / "config.py"
# Parameters whose string argument names a resources.yaml entry of that kind.
RESOURCE_PARAMS = {
    "bucket_key": "buckets",
    "queue": "queues",
    "queue_name": "queues",
    "topic": "topics",
    "topic_name": "topics",
    "subscription": "subscriptions",
    "subscription_name": "subscriptions",
}
# Settings fields naming a resource, by suffix (e.g. domain_events_topic).
RESOURCE_FIELD_SUFFIXES = {
    "_topic": "topics",
    "_queue": "queues",
    "_subscription": "subscriptions",
    "_bucket": "buckets",
}


@cache
def parse_py(path: Path) -> ast.Module:
    return ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


class SettingsModel:
    """shared/platform/config.py's Settings, read from its source: fields, secret fields,
    defaults, and which methods read which secret fields (e.g. jwt_key_map -> jwt_keys)."""

    def __init__(self, path: Path = CONFIG_PY) -> None:
        tree = parse_py(path)
        cls = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "Settings")
        self.fields: dict[str, str] = {}
        self.defaults: dict[str, Any] = {}
        for node in cls.body:
            if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
                name = node.target.id
                if name == "model_config":
                    continue
                self.fields[name] = ast.unparse(node.annotation)
                if isinstance(node.value, ast.Constant):
                    self.defaults[name] = node.value.value
        self.secret_fields = {n for n, ann in self.fields.items() if "SecretStr" in ann}
        self.secret_accessors: dict[str, set[str]] = {}
        for node in cls.body:
            if isinstance(node, ast.FunctionDef):
                used = {
                    a.attr
                    for a in ast.walk(node)
                    if isinstance(a, ast.Attribute)
                    and isinstance(a.value, ast.Name)
                    and a.value.id == "self"
                }
                if used & self.secret_fields:
                    self.secret_accessors[node.name] = used & self.secret_fields

    def env_names(self) -> set[str]:
        return {f.upper() for f in self.fields}

    def resource_fields(self) -> dict[str, tuple[str, Any]]:
        """Field -> (resources.yaml kind, default name) for fields like domain_events_topic."""
        out = {}
        for name in self.fields:
            for suffix, kind in RESOURCE_FIELD_SUFFIXES.items():
                if name.endswith(suffix):
                    out[name] = (kind, self.defaults.get(name))
        return out


def python_files(*dirs: Path) -> list[Path]:
    files: list[Path] = []
    for d in dirs:
        if d.is_dir():
            files.extend(p for p in sorted(d.rglob("*.py")) if "__pycache__" not in p.parts)
    return files


def _module_constants(tree: ast.Module) -> dict[str, str]:
    out = {}
    for node in tree.body:
        if (
            isinstance(node, ast.Assign)
            and isinstance(node.value, ast.Constant)
            and isinstance(node.value.value, str)
        ):
            for t in node.targets:
                if isinstance(t, ast.Name):
                    out[t.id] = node.value.value
    return out


@dataclass
class NamedResource:
    kind: str  # buckets | queues | topics | subscriptions
    name: str
    where: str


def resource_parameters(files: list[Path]) -> dict[str, dict[str, tuple[int, str]]]:
    """Callable name -> {parameter: (call position, kind)} for every def in `files` that takes
    a resource-naming parameter (bucket_key, queue, topic, ...; and Settings.bucket(key))."""
    params: dict[str, dict[str, tuple[int, str]]] = {}
    for path in files:
        for node in ast.walk(parse_py(path)):
            if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            args = [*node.args.posonlyargs, *node.args.args]
            offset = 1 if args and args[0].arg in ("self", "cls") else 0
            found = {}
            for i, a in enumerate(args):
                kind = RESOURCE_PARAMS.get(a.arg)
                if kind is None and node.name == "bucket" and a.arg == "key":
                    kind = "buckets"  # Settings.bucket(key)
                if kind:
                    found[a.arg] = (i - offset, kind)
            for a in node.args.kwonlyargs:
                kind = RESOURCE_PARAMS.get(a.arg)
                if kind:
                    found[a.arg] = (-1, kind)
            if found:
                params.setdefault(node.name, {}).update(found)
    return params


def named_resources(files: list[Path], params_from: list[Path]) -> list[NamedResource]:
    """Every string constant that `files` pass as a resource name: arguments of the
    resource-naming parameters defined in `params_from`, resolved through module constants."""
    params = resource_parameters(params_from)
    constants: dict[str, str] = {}
    for path in params_from:
        constants.update(_module_constants(parse_py(path)))
    found = []
    for path in files:
        tree = parse_py(path)
        local_consts = dict(constants, **_module_constants(tree))

        def resolve(node: ast.AST, consts: dict[str, str] = local_consts) -> str | None:
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                return node.value
            if isinstance(node, ast.Name):
                return consts.get(node.id)
            if isinstance(node, ast.Attribute):
                return consts.get(node.attr)
            return None

        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            func = node.func
            callee = func.id if isinstance(func, ast.Name) else getattr(func, "attr", None)
            if callee not in params:
                continue
            for pname, (pos, kind) in params[callee].items():
                arg = next((k.value for k in node.keywords if k.arg == pname), None)
                if arg is None and 0 <= pos < len(node.args):
                    arg = node.args[pos]
                value = resolve(arg) if arg is not None else None
                if value is not None:
                    where = f"{path.relative_to(ROOT)}:{node.lineno}"
                    found.append(NamedResource(kind, value, where))
    return found


def attribute_names(files: list[Path]) -> set[str]:
    return {
        node.attr
        for path in files
        for node in ast.walk(parse_py(path))
        if isinstance(node, ast.Attribute)
    }


def imported_modules(files: list[Path]) -> set[str]:
    out = set()
    for path in files:
        for node in ast.walk(parse_py(path)):
            if isinstance(node, ast.Import):
                out.update(a.name for a in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module:
                out.add(node.module)
                out.update(f"{node.module}.{a.name}" for a in node.names)
    return out


def reachable_files(function: str) -> list[Path]:
    """The repo's Python files a function can import (scripts/package.py's static walk)."""
    walk = package_module().walk_imports(FUNCTIONS_DIR / function / "main.py")
    return sorted(walk.local_files)


def secrets_read(files: list[Path], model: SettingsModel) -> set[str]:
    """Env names of the secrets that code in `files` reads from Settings (or the env)."""
    attrs = attribute_names([f for f in files if f != CONFIG_PY])
    fields = attrs & model.secret_fields
    for accessor, used in model.secret_accessors.items():
        if accessor in attrs:
            fields |= used
    env_names = {f.upper() for f in model.secret_fields}
    for path in files:
        if path == CONFIG_PY:
            continue
        for node in ast.walk(parse_py(path)):
            if isinstance(node, ast.Constant) and node.value in env_names:
                fields.add(node.value.lower())
    return {f.upper() for f in fields}
