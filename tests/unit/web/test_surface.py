"""shared.web is the one surface functions import besides the capabilities; its names are
served lazily, so an event function pays only for what it calls."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]


def loaded_after(statement: str) -> set[str]:
    """The modules of shared/ and flask a fresh interpreter holds after `statement`."""
    probe = (
        f"import sys\n{statement}\n"
        "print('\\n'.join(m for m in sys.modules if m.split('.')[0] in "
        "('shared', 'flask')))"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True
    )
    return set(out.stdout.split())


def test_setting_up_logging_loads_neither_the_routing_toolkit_nor_flask():
    loaded = loaded_after("from shared.web import setup_logging; setup_logging()")
    assert "shared.platform.log" in loaded
    assert not loaded & {"shared.web.api", "shared.web.envelopes", "flask"}


def test_the_routing_toolkit_loads_when_a_function_takes_it():
    loaded = loaded_after("from shared.web import Api")
    assert {"shared.web.api", "flask"} <= loaded
    assert "shared.web.apidocs" not in loaded
