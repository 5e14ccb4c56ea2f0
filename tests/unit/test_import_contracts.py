"""The import contracts of the package layout (pyproject [tool.importlinter], run by
`make lint`): the tree keeps them, and each contract does break on the import it forbids
(checked on a copy of the Python files with one import added)."""

import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def lint_imports(cwd: Path) -> subprocess.CompletedProcess[str]:
    # One contract per line: rich wraps the report at the terminal's width.
    env = {**os.environ, "COLUMNS": "500", "NO_COLOR": "1", "TERM": "dumb"}
    return subprocess.run(
        [str(LINT_IMPORTS), "--config", "pyproject.toml", "--no-cache"],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def verdicts(report: str) -> dict[str, str]:
    """Contract name -> KEPT | BROKEN, from the report's summary lines."""
    out = {}
    for line in report.splitlines():
        for verdict in ("KEPT", "BROKEN"):
            if line.endswith(f" {verdict}") or f" {verdict} (" in line:
                out[line.split(f" {verdict}")[0].strip()] = verdict
    return out


def test_the_tree_keeps_every_contract():
    result = lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_function_is_a_package():
    """Without functions/<name>/__init__.py import-linter would not see the function at all."""
    missing = [
        main.parent.name
        for main in sorted((ROOT / "functions").glob("*/main.py"))
        if not (main.parent / "__init__.py").is_file()
    ]
    assert (ROOT / "functions" / "__init__.py").is_file()
    assert missing == []


# One import per contract, each in a file of its own, and what the report names for it.
FORBIDDEN = [
    # (file, added line, contract, importer -> imported as reported)
    (
        "functions/courses/main.py",
        "from shared.catalog import service",
        "catalog: its internals are its own",
        "functions.courses.main -> shared.catalog.service",
    ),
    (
        "shared/learning/service.py",
        "import shared.billing.ledger",
        "billing: its internals are its own",
        "shared.learning.service -> shared.billing.ledger",
    ),
    (
        "shared/channels/rules.py",
        "import shared.platform.db",
        "rules modules are pure",
        "shared.channels.rules -> shared.platform.db",
    ),
    (
        "shared/media/mp4.py",
        "import shared.media.service  # which reaches shared.platform",
        "rules modules are pure",
        "shared.media.mp4 -> shared.media.service",
    ),
    (
        "shared/catalog/service.py",
        "from shared.web import Api",
        "use cases never import the HTTP toolkit",
        "shared.catalog.service -> shared.web",
    ),
    (
        "shared/adapters/email.py",
        "from shared import identity",
        "adapters import no capability",
        "shared.adapters.email -> shared.identity",
    ),
    (
        "shared/adapters/zoom.py",
        "from shared.web import api",
        "adapters import no capability (nor web)",
        "shared.adapters.zoom -> shared.web.api",
    ),
    (
        "shared/platform/outbox.py",
        "import shared.channels",
        "platform is the ground floor",
        "shared.platform.outbox -> shared.channels",
    ),
    (
        "functions/outbox_sweeper/main.py",
        "from shared.platform import outbox",
        "functions import only capabilities",
        "functions.outbox_sweeper.main -> shared.platform.outbox",
    ),
    (
        "functions/apidocs/main.py",
        "from shared.web import apidocs",
        "functions use shared.web through its public surface",
        "functions.apidocs.main -> shared.web.apidocs",
    ),
]


def copy_with_imports(tree: Path, added: dict[str, str]) -> Path:
    """The Python files of shared/ and functions/ with pyproject.toml, outside the checkout,
    with `added` (file -> import line) appended."""
    for top in ("shared", "functions"):
        for src in (ROOT / top).rglob("*.py"):
            dst = tree / src.relative_to(ROOT)
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(src, dst)
    shutil.copyfile(ROOT / "pyproject.toml", tree / "pyproject.toml")
    for name, line in added.items():
        target = tree / name
        target.write_text(target.read_text(encoding="utf-8") + f"\n{line}\n", encoding="utf-8")
    return tree


def test_each_contract_breaks_on_the_import_it_forbids(tmp_path):
    assert len({f for f, *_ in FORBIDDEN}) == len(FORBIDDEN)
    result = lint_imports(copy_with_imports(tmp_path, {f: line for f, line, *_ in FORBIDDEN}))
    assert result.returncode == 1, result.stdout + result.stderr
    got = verdicts(result.stdout)
    for _, _, contract, link in FORBIDDEN:
        assert [v for name, v in got.items() if name.startswith(contract)] == ["BROKEN"], contract
        assert link in result.stdout, f"{contract}: {link} not reported"


def test_a_capabilitys_schemas_are_public(tmp_path):
    added = {"shared/learning/service.py": "import shared.catalog.schemas"}
    result = lint_imports(copy_with_imports(tmp_path, added))
    assert result.returncode == 0, result.stdout + result.stderr
    assert [v for name, v in verdicts(result.stdout).items() if name.startswith("catalog:")] == [
        "KEPT"
    ]


def test_every_capability_package_is_under_the_contracts():
    """A capability added under shared/ gets its protected contract and joins the lists of
    the use-case, adapter and platform contracts (pyproject [tool.importlinter])."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    contracts = config["tool"]["importlinter"]["contracts"]
    capabilities = {
        f"shared.{init.parent.name}"
        for init in (ROOT / "shared").glob("*/__init__.py")
        if init.parent.name not in {"platform", "web", "adapters"}
    }
    assert "shared.catalog" in capabilities
    protected = {
        m.removesuffix(".*")
        for c in contracts
        if c["type"] == "protected"
        for m in c["protected_modules"]
    }
    by_name = {c["name"]: c for c in contracts}
    use_cases = set(by_name["use cases never import the HTTP toolkit"]["source_modules"])
    adapters = set(by_name["adapters import no capability (nor web)"]["forbidden_modules"])
    platform = set(
        by_name["platform is the ground floor: it imports no capability and no web module"][
            "forbidden_modules"
        ]
    )
    assert capabilities - protected == set(), "no protected contract"
    assert capabilities - use_cases == set(), "not in the use-case contract"
    assert capabilities - adapters == set(), "not in the adapter contract"
    assert capabilities - platform == set(), "not in the platform contract"
