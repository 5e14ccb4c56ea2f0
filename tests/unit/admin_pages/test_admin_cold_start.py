"""Cold start: the public pages never load the staff pages' capabilities, and the staff pages'
function loads its use cases only when a route calls them (the lazy package surfaces)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
PROBE = """
import importlib.util, json, sys
sys.path.insert(0, {root!r})
spec = importlib.util.spec_from_file_location("main", {path!r})
m = importlib.util.module_from_spec(spec); spec.loader.exec_module(m)
print(json.dumps(sorted(n for n in sys.modules if n.startswith("shared."))))
"""


def _loaded(function: str) -> set[str]:
    out = subprocess.run(
        [
            sys.executable,
            "-c",
            PROBE.format(root=str(ROOT), path=str(ROOT / "functions" / function / "main.py")),
        ],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    )
    return set(json.loads(out.stdout.strip().splitlines()[-1]))


def test_public_pages_do_not_load_staff_community_or_analytics():
    loaded = _loaded("pages")
    assert not {
        m
        for m in loaded
        if m.startswith(
            ("shared.admin_pages", "shared.community", "shared.analytics", "shared.identity")
        )
    }


def test_staff_pages_import_their_use_cases_lazily():
    loaded = _loaded("admin_pages")
    assert "shared.admin_pages" in loaded
    heavy = {
        m
        for m in loaded
        if m.startswith(("shared.community.", "shared.analytics.", "shared.admin_pages."))
    }
    assert heavy == set()
