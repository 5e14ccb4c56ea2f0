"""Server-rendered HTML: one way to build a jinja2 environment for a capability's templates.

Autoescaped and strict (an undefined name is an error, not an empty string); built on first
use, so a function that renders nothing never imports jinja2.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import jinja2

_environments: dict[Path, jinja2.Environment] = {}
_lock = threading.Lock()


def environment(
    templates: Path, filters: dict[str, Callable[..., Any]] | None = None
) -> jinja2.Environment:
    """The environment of the `templates` folder (one per folder and process)."""
    env = _environments.get(templates)
    if env is None:
        with _lock:
            env = _environments.get(templates)
            if env is None:
                import jinja2

                env = jinja2.Environment(
                    loader=jinja2.FileSystemLoader(str(templates)),
                    autoescape=True,
                    undefined=jinja2.StrictUndefined,
                    trim_blocks=True,
                    lstrip_blocks=True,
                )
                env.filters.update(filters or {})
                _environments[templates] = env
    return env
