"""Lazy public surfaces for capability packages.

A capability's `__init__` lists its use cases as imports under `if TYPE_CHECKING:` (what the
type checker, import-linter and readers see) and sets `__getattr__ = lazy_exports(...)`: a name
is imported from its module on first use. So `from shared import catalog` costs nothing at cold
start, and a function loads only the modules of the use cases it calls; scripts/package.py
follows the same table, so a bundle's requirements and grants cover exactly those modules.
"""

from __future__ import annotations

import ast
import importlib
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any


def exports_of(init_file: str | Path) -> dict[str, tuple[str, str]]:
    """Public name -> (module, name in it), read from the `if TYPE_CHECKING:` imports."""
    tree = ast.parse(Path(init_file).read_text(encoding="utf-8"))
    table: dict[str, tuple[str, str]] = {}
    for node in tree.body:
        if isinstance(node, ast.If) and getattr(node.test, "id", None) == "TYPE_CHECKING":
            for stmt in node.body:
                if isinstance(stmt, ast.ImportFrom) and stmt.module and not stmt.level:
                    for alias in stmt.names:
                        table[alias.asname or alias.name] = (stmt.module, alias.name)
    return table


def lazy_exports(package: str, init_file: str) -> Callable[[str], Any]:
    """The module-level `__getattr__` (PEP 562) of `package`."""
    table: dict[str, tuple[str, str]] = {}

    def __getattr__(name: str) -> Any:
        if not table:
            table.update(exports_of(init_file))
        if name not in table:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        module, attr = table[name]
        value = getattr(importlib.import_module(module), attr)
        setattr(sys.modules[package], name, value)  # later lookups skip __getattr__
        return value

    return __getattr__
