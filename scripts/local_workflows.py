"""A local runner for Cloud Workflows definitions (workflows/*.yaml): there is no emulator.

It interprets the subset of the Workflows syntax
(https://cloud.google.com/workflows/docs/reference/syntax) this project's workflows use, with
the same meaning, so a workflow that runs here runs in the cloud unchanged:

- `main: {params: [args], steps: [...]}` (subworkflows are not supported)
- steps: `assign`, `call` (`http.get`, `http.post`, `http.put`, `http.delete`, `http.request`,
  `sys.log`, `sys.sleep`, `sys.get_env`) with `args` and `result`, `switch` (`condition` with
  `next`, `steps`, `return` or `raise`), `next` (a step name, `end`), `return`, `raise`, `steps`
  (nested), `for` (`value`, optional `index`, `in` or `range`), `try` with `retry` (`predicate`,
  `max_retries`, `backoff`, or `${http.default_retry}` and friends) and `except` (`as`, `steps`).
- expressions `${...}`: literals, variables, `.field` and `[index]`, arithmetic, comparisons,
  `and`/`or`/`not`, `in`, and the functions `default`, `len`, `keys`, `int`, `string`,
  `double`, `map.get`, `sys.get_env`, `sys.now`, `json.encode_to_string`, `json.decode`,
  `text.split`, `text.replace_all`, `list.concat`.
- an HTTP answer outside 2xx raises `{code, message, body, headers, tags: ["HttpError"]}` as
  the service does; `auth: {type: OIDC}` is accepted and ignored (the local gateway does not
  check tokens). `FN_<FUNCTION>_URL` env vars default to `GATEWAY_URL` (one gateway serves
  every function locally, as the internal routes `/_internal/<function>` assume).

Use it as a library (`run(path, args)`, `Runner(...).run(args)`), which is what the
`shared/adapters/workflows.py` adapter does in local mode, or from the command line:

    python scripts/local_workflows.py workflows/ledger_close.yaml --data '{"max_passes": 1}'
"""

from __future__ import annotations

import argparse
import ast
import json
import logging
import operator
import os
import re
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import requests
import yaml

log = logging.getLogger("local_workflows")
_EXPR = re.compile(r"^\$\{(.*)\}$", re.S)
MAX_STEPS = 100_000  # the service's own limit on steps an execution may run


class WorkflowError(Exception):
    """A raised Workflows error: `value` is what `except: as: e` binds."""

    def __init__(self, value: Any) -> None:
        super().__init__(value if isinstance(value, str) else json.dumps(value, default=str))
        self.value = value


class _Jump(Exception):
    def __init__(self, target: str) -> None:
        self.target = target


class _Return(Exception):
    def __init__(self, value: Any) -> None:
        self.value = value


class _Break(Exception):
    pass


class _Continue(Exception):
    pass


# -- expressions --------------------------------------------------------------------------


def _to_python(expr: str) -> str:
    """The Workflows expression language is close to Python's: map its literals."""
    out, i = [], 0
    while i < len(expr):
        ch = expr[i]
        if ch in "\"'":  # copy string literals as they are
            j = i + 1
            while j < len(expr) and expr[j] != ch:
                j += 2 if expr[j] == "\\" else 1
            out.append(expr[i : j + 1])
            i = j + 1
            continue
        m = re.match(r"[A-Za-z_][A-Za-z0-9_]*", expr[i:])
        if m:
            word = m.group(0)
            out.append({"null": "None", "true": "True", "false": "False"}.get(word, word))
            i += len(word)
            continue
        out.append(ch)
        i += 1
    return "".join(out)


class _Namespace(dict):
    """Attribute access for maps (`response.body.status`); missing keys raise KeyError."""

    def __getattr__(self, name: str) -> Any:
        try:
            return _wrap(self[name])
        except KeyError as e:
            raise WorkflowError(
                {"message": f"KeyError: key not found: {name}", "tags": ["KeyError"]}
            ) from e


def _wrap(v: Any) -> Any:
    if isinstance(v, dict) and not isinstance(v, _Namespace):
        return _Namespace(v)
    return v


def _plain(v: Any) -> Any:
    if isinstance(v, dict):
        return {k: _plain(x) for k, x in v.items()}
    if isinstance(v, list):
        return [_plain(x) for x in v]
    return v


_BINOPS: dict[type, Callable[[Any, Any], Any]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
}
_CMPOPS: dict[type, Callable[[Any, Any], Any]] = {
    ast.Eq: operator.eq,
    ast.NotEq: operator.ne,
    ast.Lt: operator.lt,
    ast.LtE: operator.le,
    ast.Gt: operator.gt,
    ast.GtE: operator.ge,
    ast.In: lambda a, b: a in b,
    ast.NotIn: lambda a, b: a not in b,
}


class Evaluator:
    """Evaluates one expression against the variables, walking Python's AST of it (no eval)."""

    def __init__(self, variables: dict[str, Any], functions: dict[str, Any]) -> None:
        self.vars = variables
        self.functions = functions

    def __call__(self, expr: str) -> Any:
        tree = ast.parse(_to_python(expr.strip()), mode="eval")
        return _plain(self._eval(tree.body))

    def _dotted(self, node: ast.AST) -> str | None:
        if isinstance(node, ast.Name):
            return node.id
        if isinstance(node, ast.Attribute):
            base = self._dotted(node.value)
            return f"{base}.{node.attr}" if base else None
        return None

    def _eval(self, node: ast.AST) -> Any:
        if isinstance(node, ast.Constant):
            return node.value
        if isinstance(node, ast.Name):
            if node.id in self.vars:
                return _wrap(self.vars[node.id])
            if node.id in self.functions:
                return self.functions[node.id]
            raise WorkflowError({"message": f"undefined variable: {node.id}", "tags": ["KeyError"]})
        if isinstance(node, ast.Attribute):
            dotted = self._dotted(node)
            if dotted in self.functions and (dotted.split(".")[0] not in self.vars):
                return self.functions[dotted]
            base = self._eval(node.value)
            if isinstance(base, dict):  # a map's key, even one named like a dict method
                if node.attr not in base:
                    raise WorkflowError(
                        {"message": f"KeyError: key not found: {node.attr}", "tags": ["KeyError"]}
                    )
                return _wrap(base[node.attr])
            raise WorkflowError({"message": f"not a map: .{node.attr}", "tags": ["TypeError"]})
        if isinstance(node, ast.Subscript):
            base = self._eval(node.value)
            key = self._eval(node.slice)
            try:
                return _wrap(base[key])
            except (KeyError, IndexError, TypeError) as e:
                raise WorkflowError({"message": f"bad index {key!r}", "tags": ["KeyError"]}) from e
        if isinstance(node, ast.BinOp) and type(node.op) in _BINOPS:
            left, right = self._eval(node.left), self._eval(node.right)
            if isinstance(node.op, ast.Add) and (isinstance(left, str) != isinstance(right, str)):
                raise WorkflowError(
                    {"message": "cannot add a string and a non-string", "tags": ["TypeError"]}
                )
            return _BINOPS[type(node.op)](left, right)
        if isinstance(node, ast.UnaryOp):
            v = self._eval(node.operand)
            if isinstance(node.op, ast.Not):
                return not v
            if isinstance(node.op, ast.USub):
                return -v
            return v
        if isinstance(node, ast.BoolOp):
            if isinstance(node.op, ast.And):
                return all(self._eval(v) for v in node.values)
            return any(self._eval(v) for v in node.values)
        if isinstance(node, ast.Compare):
            left = self._eval(node.left)
            for op, comp in zip(node.ops, node.comparators, strict=True):
                right = self._eval(comp)
                if not _CMPOPS[type(op)](left, right):
                    return False
                left = right
            return True
        if isinstance(node, ast.List):
            return [self._eval(e) for e in node.elts]
        if isinstance(node, ast.Dict):
            return {
                self._eval(k): self._eval(v)
                for k, v in zip(node.keys, node.values, strict=True)
                if k is not None
            }
        if isinstance(node, ast.Call):
            fn = self._eval(node.func)
            if not callable(fn):
                raise WorkflowError({"message": "not a function", "tags": ["TypeError"]})
            return fn(*[_plain(self._eval(a)) for a in node.args])
        raise WorkflowError(
            {"message": f"unsupported expression: {ast.dump(node)}", "tags": ["ValueError"]}
        )


# -- the runner ---------------------------------------------------------------------------

_DEFAULT_RETRY = {
    "predicate": "default",
    "max_retries": 5,
    "backoff": {"initial_delay": 1, "max_delay": 60, "multiplier": 1.25},
}


def _http_retryable(e: Any, idempotent_only: bool = False) -> bool:
    tags = e.get("tags", []) if isinstance(e, dict) else []
    code = e.get("code") if isinstance(e, dict) else None
    if "ConnectionError" in tags or "TimeoutError" in tags or "ConnectionFailedError" in tags:
        return True
    return code in (429, 502, 503, 504)


class Runner:
    def __init__(
        self,
        definition: Mapping[str, Any],
        *,
        env: Mapping[str, str] | None = None,
        session: requests.Session | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if "main" not in definition:
            raise ValueError("only workflows with a `main` block are supported")
        self.main = definition["main"]
        self.env = dict(os.environ if env is None else env)
        self.http = session or requests.Session()
        self.sleep = sleep
        self.steps_run = 0
        self.functions: dict[str, Any] = {
            "default": lambda v, d: d if v is None else v,
            "len": len,
            "keys": lambda m: list(m.keys()),
            "int": int,
            "double": float,
            "string": lambda v: json.dumps(v) if isinstance(v, (dict, list)) else str(v),
            "map.get": lambda m, k: (m or {}).get(k) if isinstance(k, str) else _get_path(m, k),
            "sys.get_env": self._get_env,
            "sys.now": time.time,
            "json.encode_to_string": lambda v: json.dumps(v),
            "json.decode": lambda v: json.loads(v),
            "text.split": lambda s, sep: s.split(sep),
            "text.replace_all": lambda s, a, b: s.replace(a, b),
            "list.concat": lambda a, b: [*a, b],
            "http.default_retry_predicate": lambda e: _http_retryable(e),
            "http.default_retry_predicate_non_idempotent": lambda e: _http_retryable(e, True),
            "http.default_retry": dict(_DEFAULT_RETRY),
            "http.default_retry_non_idempotent": dict(_DEFAULT_RETRY),
        }

    def _get_env(self, name: str, default: Any = None) -> Any:
        if name in self.env:
            return self.env[name]
        if re.fullmatch(r"FN_[A-Z0-9_]+_URL", name) and self.env.get("GATEWAY_URL"):
            return self.env["GATEWAY_URL"]
        return default

    # -- values --------------------------------------------------------------------------

    def value(self, v: Any, variables: dict[str, Any]) -> Any:
        if isinstance(v, str):
            m = _EXPR.match(v.strip())
            if m:
                return Evaluator(variables, self.functions)(m.group(1))
            return v
        if isinstance(v, list):
            return [self.value(x, variables) for x in v]
        if isinstance(v, dict):
            return {self.value(k, variables): self.value(x, variables) for k, x in v.items()}
        return v

    # -- execution -----------------------------------------------------------------------

    def run(self, args: Any = None) -> Any:
        variables: dict[str, Any] = {}
        params = self.main.get("params") or []
        if params:
            variables[params[0]] = args
        try:
            self._steps(self.main["steps"], variables)
        except _Return as r:
            return r.value
        return None

    def _steps(self, steps: list[dict[str, Any]], variables: dict[str, Any]) -> None:
        names = [next(iter(s)) for s in steps]
        i = 0
        while i < len(steps):
            name = names[i]
            body = steps[i][name] or {}
            try:
                target = self._step(name, body, variables)
            except _Jump as j:
                if j.target not in names:
                    raise
                target = j.target
            if target is None:
                i += 1
            elif target == "end":
                raise _Return(None)
            elif target == "break":
                raise _Break()
            elif target == "continue":
                raise _Continue()
            elif target in names:
                i = names.index(target)
            else:
                raise _Jump(target)  # a step of an enclosing block

    def _step(self, name: str, body: dict[str, Any], variables: dict[str, Any]) -> str | None:
        self.steps_run += 1
        if self.steps_run > MAX_STEPS:
            raise WorkflowError({"message": "step limit exceeded", "tags": ["ResourceLimitError"]})
        if "try" in body:
            self._try(body, variables)
        elif "assign" in body:
            for item in body["assign"]:
                for k, v in item.items():
                    self._assign(k, self.value(v, variables), variables)
        elif "call" in body:
            result = self._call(body["call"], self.value(body.get("args") or {}, variables))
            if body.get("result"):
                variables[body["result"]] = result
        elif "switch" in body:
            for case in body["switch"]:
                if self.value(case["condition"], variables):
                    target = self._case(case, variables)
                    if target is not None:
                        return target
                    break
        elif "for" in body:
            self._for(body["for"], variables)
        elif "steps" in body:
            self._steps(body["steps"], variables)
        elif "return" in body:
            raise _Return(self.value(body["return"], variables))
        elif "raise" in body:
            raise WorkflowError(self.value(body["raise"], variables))
        return self._next(body)

    @staticmethod
    def _next(body: dict[str, Any]) -> str | None:
        return body.get("next")

    def _case(self, case: dict[str, Any], variables: dict[str, Any]) -> str | None:
        if "steps" in case:
            self._steps(case["steps"], variables)
        if "return" in case:
            raise _Return(self.value(case["return"], variables))
        if "raise" in case:
            raise WorkflowError(self.value(case["raise"], variables))
        if "assign" in case:
            for item in case["assign"]:
                for k, v in item.items():
                    self._assign(k, self.value(v, variables), variables)
        return case.get("next")

    def _assign(self, target: str, value: Any, variables: dict[str, Any]) -> None:
        parts = re.findall(r"[A-Za-z_][A-Za-z0-9_]*|\[[^\]]+\]", target)
        if len(parts) == 1:
            variables[target] = value
            return
        obj = variables.setdefault(parts[0], {})
        for p in parts[1:-1]:
            key = self._key(p, variables)
            obj = obj.setdefault(key, {}) if isinstance(obj, dict) else obj[key]
        obj[self._key(parts[-1], variables)] = value

    def _key(self, part: str, variables: dict[str, Any]) -> Any:
        if part.startswith("["):
            return self.value("${" + part[1:-1] + "}", variables)
        return part

    def _for(self, spec: dict[str, Any], variables: dict[str, Any]) -> None:
        if "range" in spec:
            lo, hi = self.value(spec["range"], variables)
            items: list[Any] = list(range(int(lo), int(hi) + 1))
        else:
            items = list(self.value(spec["in"], variables))
        for index, item in enumerate(items):
            variables[spec["value"]] = item
            if spec.get("index"):
                variables[spec["index"]] = index
            try:
                self._steps(spec["steps"], variables)
            except _Break:
                break
            except _Continue:
                continue

    def _try(self, body: dict[str, Any], variables: dict[str, Any]) -> None:
        block = body["try"]
        retry = body.get("retry")
        if isinstance(retry, str):
            retry = self.value(retry, variables)
        attempt = 0
        while True:
            try:
                if "steps" in block:
                    self._steps(block["steps"], variables)
                else:
                    nested = dict(block)
                    if "result" in body and "result" not in nested:
                        nested["result"] = body["result"]
                    self._step("try", nested, variables)
                return
            except WorkflowError as e:
                if retry and attempt < int(retry.get("max_retries", 0)):
                    predicate = retry.get("predicate", "default")
                    if isinstance(predicate, str) and predicate.startswith("${"):
                        predicate = self.value(predicate, variables)
                    ok = _http_retryable(e.value) if predicate == "default" else predicate(e.value)
                    if ok:
                        b = retry.get("backoff") or {}
                        delay = float(b.get("initial_delay", 1)) * (
                            float(b.get("multiplier", 2)) ** attempt
                        )
                        self.sleep(min(delay, float(b.get("max_delay", 60))))
                        attempt += 1
                        continue
                handler = body.get("except")
                if not handler:
                    raise
                variables[handler.get("as", "e")] = e.value
                self._steps(handler["steps"], variables)
                return

    # -- calls ---------------------------------------------------------------------------

    def _call(self, fn: str, args: dict[str, Any]) -> Any:
        if fn == "sys.log":
            log.log(
                logging.WARNING if args.get("severity") in ("WARNING", "ERROR") else logging.INFO,
                "%s",
                args.get("json", args.get("text", args.get("data"))),
            )
            return None
        if fn == "sys.sleep":
            self.sleep(float(args.get("seconds", 0)))
            return None
        if fn == "sys.get_env":
            return self._get_env(args["name"], args.get("default"))
        if fn.startswith("http."):
            method = args.get("method", "GET") if fn == "http.request" else fn.split(".")[1]
            return self._http(method.upper(), args)
        raise WorkflowError({"message": f"unsupported call: {fn}", "tags": ["ValueError"]})

    def _http(self, method: str, args: dict[str, Any]) -> dict[str, Any]:
        headers = dict(args.get("headers") or {})
        kwargs: dict[str, Any] = {"headers": headers, "timeout": float(args.get("timeout", 300))}
        if args.get("query"):
            kwargs["params"] = args["query"]
        if "body" in args and args["body"] is not None:
            kwargs["json"] = args["body"]
        try:
            r = self.http.request(method, args["url"], **kwargs)
        except requests.Timeout as e:
            raise WorkflowError({"message": str(e), "tags": ["TimeoutError"]}) from e
        except requests.ConnectionError as e:
            raise WorkflowError({"message": str(e), "tags": ["ConnectionError"]}) from e
        try:
            body: Any = r.json()
        except ValueError:
            body = r.text
        answer = {"code": r.status_code, "headers": dict(r.headers), "body": body}
        if not 200 <= r.status_code < 300:
            raise WorkflowError(
                {
                    **answer,
                    "message": f"HTTP server responded with error code {r.status_code}",
                    "tags": ["HttpError"],
                }
            )
        return answer


def _get_path(m: Any, keys: list[str]) -> Any:
    for k in keys:
        if not isinstance(m, dict) or k not in m:
            return None
        m = m[k]
    return m


def load(path: str | Path) -> dict[str, Any]:
    return yaml.safe_load(Path(path).read_text())


def run(path: str | Path, args: Any = None, *, env: Mapping[str, str] | None = None) -> Any:
    """Run the workflow at `path` to its end; returns its result, raises WorkflowError."""
    return Runner(load(path), env=env).run(args)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("workflow", help="workflows/<name>.yaml")
    p.add_argument("--data", default="null", help="the execution argument (JSON)")
    ns = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    try:
        result = run(ns.workflow, json.loads(ns.data))
    except WorkflowError as e:
        print(json.dumps({"state": "FAILED", "error": e.value}, default=str))
        return 1
    print(json.dumps({"state": "SUCCEEDED", "result": result}, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
