"""The test suite's own habits (issue 10): test data comes from tests/factories.py and helpers
from tests/helpers.py, never from another test module; waiting is tests.helpers.eventually()."""

from __future__ import annotations

import ast
import itertools
from pathlib import Path

import pytest

from tests.helpers import eventually

TESTS = Path(__file__).resolve().parents[1]


def _module_name(path: Path) -> str:
    return ".".join(path.relative_to(TESTS.parent).with_suffix("").parts)


def _imported_modules(path: Path) -> set[str]:
    """Every module an import statement of the file names (relative imports resolved)."""
    package = _module_name(path).rsplit(".", 1)[0]
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{parent}.{base}" if base else parent
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names)  # from pkg import mod
    return names


def _is_test_module(name: str) -> bool:
    return name.startswith("tests.") and name.rsplit(".", 1)[-1].startswith("test_")


def test_no_test_module_imports_another_test_module():
    offenders = [
        f"{path.relative_to(TESTS.parent)} imports {name}"
        for path in sorted(TESTS.rglob("*.py"))
        for name in sorted(_imported_modules(path))
        if _is_test_module(name) and name != _module_name(path)
    ]
    assert offenders == [], "move shared helpers to tests/factories.py or tests/helpers.py"


def test_the_import_scan_sees_every_form_of_a_test_module_import(tmp_path, monkeypatch):
    """The scan above must not pass by missing a form of import."""
    pkg = tmp_path / "tests" / "e2e"
    pkg.mkdir(parents=True)
    forms = [
        "from tests.e2e.test_media import api",
        "from tests.e2e import test_media",
        "import tests.e2e.test_media",
        "from .test_media import api",
        "from . import test_media",
    ]
    monkeypatch.setattr(f"{__name__}.TESTS", tmp_path / "tests")
    for i, line in enumerate(forms):
        path = pkg / f"test_x{i}.py"
        path.write_text(line + "\n")
        assert any(_is_test_module(n) for n in _imported_modules(path)), line
    fine = pkg / "test_fine.py"
    fine.write_text("from tests.factories import new_user\nfrom tests.helpers import signup\n")
    assert not any(_is_test_module(n) for n in _imported_modules(fine))


def _hand_written_poll_loops(path: Path) -> list[int]:
    """Lines of `while` loops that sleep: a poll loop of its own instead of eventually()."""
    loops = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.While):
            for inner in ast.walk(node):
                if (
                    isinstance(inner, ast.Call)
                    and isinstance(inner.func, ast.Attribute)
                    and inner.func.attr == "sleep"
                ):
                    loops.append(node.lineno)
                    break
    return loops


def test_the_loop_scan_sees_a_sleeping_while_loop(tmp_path):
    path = tmp_path / "test_x.py"
    path.write_text(
        "import time\n"
        "def test_x():\n"
        "    for _ in range(3):\n"
        "        time.sleep(0)\n"  # a for loop paces real time; not a poll loop
        "    while not ready():\n"
        "        if late():\n"
        "            time.sleep(0.1)\n"
    )
    assert _hand_written_poll_loops(path) == [5]


def test_integration_and_e2e_tests_wait_with_eventually():
    paths = itertools.chain((TESTS / "integration").rglob("*.py"), (TESTS / "e2e").rglob("*.py"))
    found = [
        f"{path.relative_to(TESTS.parent)}:{line}"
        for path in sorted(paths)
        for line in _hand_written_poll_loops(path)
    ]
    assert found == [], "poll with tests.helpers.eventually()"


# -- eventually() itself ------------------------------------------------------------------------
def _answers(*values):
    it = iter(values)
    last = [None]

    def read():
        last[0] = next(it, last[0])
        return last[0]

    return read


def test_eventually_returns_the_first_answer_equal_to_expected():
    assert eventually(_answers(1, 2, 3, 4), 3, interval=0) == 3


def test_eventually_can_wait_for_none():
    assert eventually(_answers("object", "object", None), None, interval=0) is None


def test_eventually_without_expected_waits_for_a_truthy_answer():
    assert eventually(_answers([], [], ["row"]), interval=0) == ["row"]


def test_eventually_with_until_returns_the_answer_that_satisfies_it():
    got = eventually(
        _answers({"s": "pending"}, {"s": "ready"}), until=lambda a: a["s"] != "pending"
    )
    assert got == {"s": "ready"}


def test_eventually_fails_with_the_last_answer_at_the_deadline():
    with pytest.raises(AssertionError, match=r"still 'pending'; waited for 'ready'"):
        eventually(_answers("pending"), "ready", timeout=0.05, interval=0.01)


def test_eventually_takes_expected_or_until_not_both():
    with pytest.raises(TypeError):
        eventually(_answers(1), 1, until=bool)
