"""Generate shared/openapi.json from every function's `api` (run: make openapi), and compare
it with the v1 baseline (`python scripts/openapi.py --changes`).

tests/unit/web/test_openapi.py fails when the committed document is out of date;
tests/unit/web/test_openapi_contract.py fails when the document differs from
docs/openapi-v1-baseline.json by a change that docs/API-CHANGELOG.md does not list (a breaking
one under a "Breaking" heading).

The comparison reduces each document to facts a client relies on (operations and their
operationIds, parameters, bodies and responses; schemas, their fields, field types, enum
values, which fields a request must send) and names each difference by a key such as
`removed field: CourseOut.price`. A fact under a parent that is itself new or gone (the fields
of a new schema, the responses of a removed operation) is covered by the parent's key.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from shared.web.api import Api  # noqa: E402
from shared.web.openapi import build  # noqa: E402

OUT = ROOT / "shared" / "openapi.json"
BASELINE = ROOT / "docs" / "openapi-v1-baseline.json"
CHANGELOG = ROOT / "docs" / "API-CHANGELOG.md"
_REF = "#/components/schemas/"


def load_apis() -> list[Api]:
    apis = []
    for main in sorted((ROOT / "functions").glob("*/main.py")):
        spec = importlib.util.spec_from_file_location(f"fn_{main.parent.name}", main)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        api = getattr(module, "api", None)
        if isinstance(api, Api):
            apis.append(api)
    return apis


def render() -> str:
    return json.dumps(build(load_apis()), indent=2, sort_keys=False) + "\n"


# --- contract facts ---------------------------------------------------------------------------

# kind -> kind of its parent fact (a fact whose parent also changed is not reported)
_PARENT = {
    "operation": None,
    "operation id": "operation",
    "parameter": "operation",
    "required parameter": "parameter",
    "request body": "operation",
    "required request body": "request body",
    "request body type": "request body",
    "response": "operation",
    "response type": "response",
    "schema": None,
    "field": "schema",
    "required field": "schema",
    "field type": "field",
    "enum value": "field",
}
# Removing one of these breaks a client; so does adding one of `_BREAKING_WHEN_ADDED`.
_BREAKING_WHEN_REMOVED = {
    "operation",
    "operation id",
    "parameter",
    "request body",
    "request body type",
    "response",
    "response type",
    "schema",
    "field",
    "field type",
    "enum value",
}
_BREAKING_WHEN_ADDED = {"required parameter", "required request body", "required field"}


@dataclass(frozen=True, order=True)
class Fact:
    kind: str
    subject: str  # e.g. "POST /v1/channels", "CourseOut.price"
    value: str = ""  # a type or an enum value

    @property
    def parent(self) -> Fact | None:
        kind = _PARENT[self.kind]
        if kind is None:
            return None
        if kind == self.kind.removeprefix("required "):  # same subject, e.g. required field
            return Fact(kind, self.subject)
        if kind == "field" and " " in self.subject:  # a parameter's type or enum value
            return Fact("parameter", self.subject)
        if kind == "field" and "." not in self.subject:  # a model that is itself an enum
            return Fact("schema", self.subject)
        if kind in {"operation", "schema"}:
            return Fact(kind, _owner(self.subject))
        return Fact(kind, self.subject)


def _owner(subject: str) -> str:
    """`GET /v1/x query.limit` -> `GET /v1/x`; `CourseOut.price` -> `CourseOut`;
    `GET /v1/x 200` -> `GET /v1/x`."""
    if " " in subject:
        method, path, *_ = subject.split(" ")
        return f"{method} {path}"
    return subject.split(".", 1)[0]


@dataclass(frozen=True, order=True)
class Change:
    key: str
    breaking: bool


def shape(schema: dict[str, Any]) -> str:
    """A schema's type as a client sees it, without its constraints or enum values."""
    if "$ref" in schema:
        return schema["$ref"].removeprefix(_REF)
    for union in ("anyOf", "oneOf"):
        if union in schema:
            return "|".join(sorted({shape(s) for s in schema[union]}))
    kind = schema.get("type", "any")
    if isinstance(kind, list):
        return "|".join(sorted(kind))
    if kind == "array":
        return f"array[{shape(schema.get('items', {}))}]"
    if kind == "object" and "additionalProperties" in schema:
        extra = schema["additionalProperties"]
        if isinstance(extra, dict):
            return f"object[{shape(extra)}]"
    return str(kind)


def _enum_values(schema: dict[str, Any]) -> Iterator[str]:
    for value in schema.get("enum", []):
        yield json.dumps(value)
    if "const" in schema:
        yield json.dumps(schema["const"])
    for union in ("anyOf", "oneOf"):
        for sub in schema.get(union, []):
            yield from _enum_values(sub)
    if isinstance(schema.get("items"), dict):
        yield from _enum_values(schema["items"])


def _field_facts(subject: str, schema: dict[str, Any]) -> Iterator[Fact]:
    yield Fact("field type", subject, shape(schema))
    for value in _enum_values(schema):
        yield Fact("enum value", subject, value)


def _refs(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str) and value.startswith(_REF):
                yield value.removeprefix(_REF)
            else:
                yield from _refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from _refs(value)


def request_schemas(spec: dict[str, Any]) -> set[str]:
    """Components a client sends: reachable from a request body or a parameter."""
    schemas = spec.get("components", {}).get("schemas", {})
    todo = [
        name
        for ops in spec["paths"].values()
        for op in ops.values()
        for name in _refs([op.get("requestBody", {}), op.get("parameters", [])])
    ]
    seen: set[str] = set()
    while todo:
        name = todo.pop()
        if name not in seen and name in schemas:
            seen.add(name)
            todo.extend(_refs(schemas[name]))
    return seen


def schema_users(spec: dict[str, Any]) -> dict[str, set[str]]:
    """Component name -> the operations (`METHOD /path`) whose parameters, bodies or answers
    reach it, directly or through other components."""
    schemas = spec.get("components", {}).get("schemas", {})
    users: dict[str, set[str]] = {}
    for path, ops in spec["paths"].items():
        for method, op in ops.items():
            where = f"{method.upper()} {path}"
            todo, seen = list(_refs(op)), set()
            while todo:
                name = todo.pop()
                if name not in seen and name in schemas:
                    seen.add(name)
                    users.setdefault(name, set()).add(where)
                    todo.extend(_refs(schemas[name]))
    return users


def _operation_facts(where: str, op: dict[str, Any]) -> Iterator[Fact]:
    yield Fact("operation", where)
    yield Fact("operation id", where, op.get("operationId", ""))
    for param in op.get("parameters", []):
        subject = f"{where} {param['in']}.{param['name']}"
        yield Fact("parameter", subject)
        if param.get("required"):
            yield Fact("required parameter", subject)
        yield from _field_facts(subject, param.get("schema", {}))
    if body := op.get("requestBody"):
        yield Fact("request body", where)
        if body.get("required"):
            yield Fact("required request body", where)
        for media, content in sorted(body.get("content", {}).items()):
            yield Fact("request body type", where, f"{media} {shape(content.get('schema', {}))}")
    for status, answer in op.get("responses", {}).items():
        subject = f"{where} {status}"
        yield Fact("response", subject)
        for media, content in sorted(answer.get("content", {}).items()):
            yield Fact("response type", subject, f"{media} {shape(content.get('schema', {}))}")


def facts(spec: dict[str, Any]) -> set[Fact]:
    """What a client of `spec` relies on."""
    found: set[Fact] = set()
    for path, ops in spec["paths"].items():
        for method, op in ops.items():
            found.update(_operation_facts(f"{method.upper()} {path}", op))
    requests = request_schemas(spec)
    for name, schema in spec.get("components", {}).get("schemas", {}).items():
        found.add(Fact("schema", name))
        for field, prop in schema.get("properties", {}).items():
            found.add(Fact("field", f"{name}.{field}"))
            found.update(_field_facts(f"{name}.{field}", prop))
        if name in requests:  # a field a response newly always has breaks no client
            found.update(Fact("required field", f"{name}.{f}") for f in schema.get("required", []))
        for value in _enum_values(schema):  # a model that is itself an enum
            found.add(Fact("enum value", name, value))
    return found


def _key(verb: str, fact: Fact) -> str:
    kind = fact.kind
    if kind.startswith("required ") and verb == "added":
        return f"newly required {kind.removeprefix('required ')}: {fact.subject}"
    if kind.startswith("required ") and verb == "removed":
        return f"no longer required {kind.removeprefix('required ')}: {fact.subject}"
    value = f" {fact.value}" if fact.value else ""
    return f"{verb} {kind}: {fact.subject}{value}"


def _ancestors(fact: Fact) -> set[Fact]:
    """The fact itself and its parents up to the root."""
    found: set[Fact] = set()
    current: Fact | None = fact
    while current is not None:
        found.add(current)
        current = current.parent
    return found


def _required_fields(spec: dict[str, Any]) -> set[Fact]:
    return {
        Fact("required field", f"{name}.{field}")
        for name, schema in spec.get("components", {}).get("schemas", {}).items()
        for field in schema.get("required", [])
    }


_TYPES = {"operation id", "field type", "request body type", "response type"}


def changes(old: dict[str, Any], new: dict[str, Any]) -> list[Change]:
    """Every difference a client could notice between two documents, by key. A type or an
    operationId that differs is one `changed ...` key (breaking), not a removal and an
    addition."""
    before, after = facts(old), facts(new)
    removed, added = before - after, after - before
    retyped = {(f.kind, f.subject) for f in removed if f.kind in _TYPES} & {
        (f.kind, f.subject) for f in added if f.kind in _TYPES
    }
    out = {Change(f"changed {kind}: {subject}", True) for kind, subject in retyped}
    # A schema that starts or stops being sent (only a new or removed route uses it) does not
    # make its fields newly required, nor optional.
    required_anyway = _required_fields(old) & _required_fields(new)
    # A new schema that only new operations use comes with them (and a removed one that only
    # removed operations used goes with them): their key covers it.
    for diff, spec in ((added, new), (removed, old)):
        operations = {f.subject for f in diff if f.kind == "operation"}
        covered = {
            Fact("schema", name)
            for name, users in schema_users(spec).items()
            if users <= operations
        }
        diff.difference_update({f for f in diff if _ancestors(f) & covered})
    for verb, diff, breaking_kinds in (
        ("removed", removed, _BREAKING_WHEN_REMOVED),
        ("added", added, _BREAKING_WHEN_ADDED),
    ):
        for fact in sorted(diff):
            parent = fact.parent
            if (parent is not None and parent in diff) or (fact.kind, fact.subject) in retyped:
                continue
            if fact in required_anyway:
                continue
            out.add(Change(_key(verb, fact), fact.kind in breaking_kinds))
    return sorted(out, key=lambda c: (not c.breaking, c.key))


_HEADING = re.compile(r"^#{2,4}\s+(.*)$")
_ENTRY = re.compile(r"`([^`]+)`")


def listed(changelog: str) -> tuple[set[str], set[str]]:
    """Keys the changelog's list items name in backticks (an item may go on over indented
    lines): (those under a heading containing "Breaking", all of them)."""
    breaking: set[str] = set()
    anywhere: set[str] = set()
    in_breaking = in_item = False
    for line in changelog.splitlines():
        if m := _HEADING.match(line):
            in_breaking = "breaking" in m.group(1).lower()
            in_item = False
            continue
        in_item = line.lstrip().startswith(("- ", "* ")) or (in_item and line[:1] == " ")
        if in_item:
            keys = set(_ENTRY.findall(line))
            anywhere |= keys
            if in_breaking:
                breaking |= keys
    return breaking, anywhere


def unlisted(found: list[Change], changelog: str) -> list[Change]:
    """Changes the changelog does not list (a breaking one must be under "Breaking")."""
    breaking, anywhere = listed(changelog)
    return [c for c in found if c.key not in (breaking if c.breaking else anywhere)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--changes",
        action="store_true",
        help="print how the document differs from the v1 baseline, and what the changelog "
        "does not list yet",
    )
    args = parser.parse_args(argv)
    if not args.changes:
        OUT.write_text(render())
        print(f"wrote {OUT.relative_to(ROOT)}")
        return 0
    found = changes(json.loads(BASELINE.read_text()), json.loads(render()))
    missing = set(unlisted(found, CHANGELOG.read_text()))
    for c in found:
        mark = "  (not in the changelog)" if c in missing else ""
        print(f"{'BREAKING' if c.breaking else 'additive'}  - `{c.key}`{mark}")
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main())
