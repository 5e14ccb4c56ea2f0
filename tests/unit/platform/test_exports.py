"""Capability packages' lazy public surfaces (shared/platform/exports.py,
docs/decisions/packages-by-capability.md): every listed name resolves, `__all__` and the
TYPE_CHECKING table agree, and no public name is shadowed by a submodule of the same name."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest

from shared.platform.exports import exports_of

SHARED = Path(__file__).resolve().parents[3] / "shared"
LAZY = sorted(
    init.parent.name
    for init in SHARED.glob("*/__init__.py")
    if "lazy_exports(" in init.read_text(encoding="utf-8")
)


def test_the_capabilities_have_lazy_public_surfaces():
    expected = {"identity", "channels", "catalog", "media", "learning", "billing", "live", "web"}
    assert expected <= set(LAZY), LAZY


@pytest.mark.parametrize("name", LAZY)
def test_all_lists_exactly_the_type_checking_exports(name):
    package = importlib.import_module(f"shared.{name}")
    table = exports_of(SHARED / name / "__init__.py")
    assert table, f"shared.{name} exports nothing"
    assert sorted(package.__all__) == sorted(table)


@pytest.mark.parametrize("name", LAZY)
def test_every_export_resolves_to_the_object_in_its_module(name):
    package = importlib.import_module(f"shared.{name}")
    for public, (module, attr) in exports_of(SHARED / name / "__init__.py").items():
        assert getattr(package, public) is getattr(importlib.import_module(module), attr), public


@pytest.mark.parametrize("name", LAZY)
def test_no_export_is_named_like_a_submodule(name):
    submodules = {p.stem for p in (SHARED / name).glob("*.py")} | {
        p.name for p in (SHARED / name).iterdir() if (p / "__init__.py").is_file()
    }
    clashes = set(exports_of(SHARED / name / "__init__.py")) & submodules
    assert clashes == set(), f"shared.{name}: a submodule would shadow {sorted(clashes)}"


def test_an_unknown_name_is_an_attribute_error():
    package = importlib.import_module(f"shared.{LAZY[0]}")
    with pytest.raises(AttributeError, match="no attribute"):
        _ = package.no_such_use_case
