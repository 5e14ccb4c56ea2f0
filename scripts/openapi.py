"""Generate shared/openapi.json from every function's `api` (run: make openapi).

tests/unit/web/test_openapi.py fails when the committed document is out of date.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from shared.web.api import Api  # noqa: E402
from shared.web.openapi import build  # noqa: E402

OUT = ROOT / "shared" / "openapi.json"


def load_apis() -> list[Api]:
    apis = []
    for main in sorted((ROOT / "functions").glob("*/main.py")):
        spec = importlib.util.spec_from_file_location(f"fn_{main.parent.name}", main)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        api = getattr(module, "api", None)
        if isinstance(api, Api):
            apis.append(api)
    return apis


def render() -> str:
    return json.dumps(build(load_apis()), indent=2, sort_keys=False) + "\n"


if __name__ == "__main__":
    OUT.write_text(render())
    print(f"wrote {OUT.relative_to(ROOT)}")
