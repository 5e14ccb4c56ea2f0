"""Build one deployable source bundle per function: build/functions/<name>.zip.

Each zip holds, at its root, the function's own files (main.py, ...), the whole `shared/`
package (code, SQL migrations, resources.yaml, templates) and a requirements.txt listing only
the distributions that this function's code can import: the imports of main.py and of every
`shared` module it reaches, walked statically (lazy imports inside functions count, imports
under `if TYPE_CHECKING:` do not), mapped to the installed distributions and pinned to their
installed versions. Cloud Functions follows no symlinks and runs no setup.py, so this is how a
function gets the library, and it pays at cold start only for what it imports.

Bundles are reproducible: entries sorted, fixed timestamps and permissions, so the same inputs
give the same bytes and Terraform names each upload by its content hash.

    python scripts/package.py                   # every function in shared/resources.yaml
    python scripts/package.py auth media        # some
    python scripts/package.py --job migrate     # build/jobs/migrate/: Docker context of the job
    python scripts/package.py --print-requirements auth
"""

from __future__ import annotations

import argparse
import ast
import hashlib
import importlib.metadata as md
import io
import os
import re
import shutil
import sys
import tomllib
import zipfile
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FUNCTIONS = ROOT / "functions"
SHARED = ROOT / "shared"
DEFAULT_OUT = ROOT / "build" / "functions"

# 1980-01-01 is the earliest date a zip entry can carry.
ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)
FILE_MODE = 0o100644  # regular file, rw-r--r--
SKIP_DIRS = {"__pycache__", ".pytest_cache", ".mypy_cache", ".ruff_cache"}
SKIP_SUFFIXES = {".pyc", ".pyo", ".orig", ".rej", ".swp"}
# Assets only some functions use: bundled only into a function whose imports reach the module
# (the certificate fonts are 19 MB; only the PDF renderer and the template preview load them).
ASSETS_OF = {"shared/certificates/fonts": "shared/certificates/pdf.py"}
# Always deployed: the Python runtime starts the function through it.
RUNTIME_DISTRIBUTIONS = ("functions-framework",)

# The image the `migrate` Cloud Run job runs. Same Python as the functions' runtime.
MIGRATE_DOCKERFILE = """\
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
WORKDIR /app
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt
COPY shared/ shared/
USER 65532:65532
CMD ["python", "-m", "shared.platform.migrate"]
"""


# --- static import walk ----------------------------------------------------------------------


@dataclass
class ImportWalk:
    local_files: set[Path] = field(default_factory=set)
    # imports from outside the repo: candidate dotted names, most specific first
    external: set[tuple[str, ...]] = field(default_factory=set)


def _type_checking_block(node: ast.AST) -> bool:
    if not isinstance(node, ast.If):
        return False
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imported_names(tree: ast.AST, package: str) -> list[tuple[str, ...]]:
    """What a module may import at run time: one tuple of candidate dotted names per imported
    name, most specific first (`from a import b` imports the submodule a.b or a name of a)."""
    groups: list[tuple[str, ...]] = []

    def visit(node: ast.AST) -> None:
        for child in ast.iter_child_nodes(node):
            if _type_checking_block(child):
                for sub in child.orelse:  # the `else:` of `if TYPE_CHECKING:` does run
                    visit_stmt(sub)
                continue
            visit_stmt(child)

    def visit_stmt(child: ast.AST) -> None:
        if isinstance(child, ast.Import):
            groups.extend((a.name,) for a in child.names)
        elif isinstance(child, ast.ImportFrom):
            if child.level:
                base = package.split(".") if package else []
                base = base[: len(base) - (child.level - 1)] if child.level > 1 else base
                module = ".".join([*base, child.module] if child.module else base)
            else:
                module = child.module or ""
            for a in child.names:
                groups.append((module,) if a.name == "*" else (f"{module}.{a.name}", module))
        visit(child)

    visit(tree)
    return [tuple(n for n in g if n) for g in groups if any(g)]


def _local_module_file(name: str, search: list[Path]) -> Path | None:
    parts = name.split(".")
    for base in search:
        stem = base.joinpath(*parts)
        for candidate in (stem.with_suffix(".py"), stem / "__init__.py"):
            if candidate.is_file():
                return candidate
    return None


def _package_of(path: Path, roots: list[Path]) -> str:
    for root in roots:
        try:
            rel = path.relative_to(root)
        except ValueError:
            continue
        # a/b/__init__.py and a/b/c.py both live in package a.b
        return ".".join(rel.parts[:-1])
    return ""


def _lazy_exports(init_file: Path) -> dict[str, tuple[str, str]] | None:
    """A capability package's export table (shared/platform/exports.py), or None."""
    if init_file.name != "__init__.py" or "lazy_exports" not in init_file.read_text("utf-8"):
        return None
    from shared.platform.exports import exports_of

    return exports_of(init_file)


def _attributes_used(tree: ast.AST) -> list[tuple[str, ...]]:
    """`from shared import catalog` then `catalog.create_course`: what `catalog.X` names, as
    import candidates ("shared.catalog.create_course", "shared.catalog")."""
    bound: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and not node.level:
            for a in node.names:
                bound[a.asname or a.name] = f"{node.module}.{a.name}"
    used: list[tuple[str, ...]] = []
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id in bound
        ):
            target = bound[node.value.id]
            used.append((f"{target}.{node.attr}", target))
    return used


def walk_imports(entry: Path, *, extra_roots: tuple[Path, ...] = ()) -> ImportWalk:
    """Follow imports from `entry` through the repo's own modules (shared.*, the function's
    sibling modules); collect everything else that is not the standard library. A name taken
    from a capability package leads to the module that defines it, not to the whole package."""
    roots = [entry.parent, *extra_roots, ROOT]
    walk = ImportWalk()
    todo = [entry]
    stdlib = set(sys.stdlib_module_names)

    def exported(name: str) -> Path | None:
        parent, _, attr = name.rpartition(".")
        init = _local_module_file(parent, roots) if parent else None
        table = _lazy_exports(init) if init is not None else None
        if table is None or attr not in table:
            return None
        return _local_module_file(table[attr][0], roots)

    while todo:
        path = todo.pop()
        if path in walk.local_files:
            continue
        walk.local_files.add(path)
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        package = _package_of(path, roots)
        lazy = [g for g in _attributes_used(tree) if exported(g[0])]
        for group in [*_imported_names(tree, package), *lazy]:
            top = group[0].split(".")[0]
            if top in stdlib or top == "__future__":
                continue
            local = next(
                (f for n in group if (f := _local_module_file(n, roots) or exported(n))), None
            )
            if local is None and _local_module_file(top, roots) is None:
                walk.external.add(group)
                continue
            # Importing a.b.c runs a/__init__.py and a/b/__init__.py first.
            parts = group[-1].split(".")
            for i in range(1, len(parts) + 1):
                parent = _local_module_file(".".join(parts[:i]), roots)
                if parent is not None:
                    todo.append(parent)
            if local is not None:
                todo.append(local)
    return walk


# --- import name -> installed distribution -----------------------------------------------------


@lru_cache(maxsize=1)
def _module_index() -> dict[str, set[str]]:
    """Dotted module name -> names of the installed distributions that ship it."""
    index: dict[str, set[str]] = {}
    for dist in md.distributions():
        name = dist.metadata["Name"]
        if not name:
            continue
        for f in dist.files or []:
            parts = f.parts
            if (
                not parts
                or parts[0].endswith((".dist-info", ".egg-info", ".data"))
                or ".." in parts
            ):
                continue
            leaf = parts[-1]
            if leaf == "__init__.py":
                mod = parts[:-1]
            elif leaf.endswith(".py"):
                mod = (*parts[:-1], leaf[:-3])
            elif leaf.endswith((".so", ".pyd")):
                mod = (*parts[:-1], leaf.split(".")[0])
            else:
                continue
            if mod:
                index.setdefault(".".join(mod), set()).add(name)
    return index


def distribution_for(module: str) -> str | None:
    index = _module_index()
    parts = module.split(".")
    for i in range(len(parts), 0, -1):
        dists = index.get(".".join(parts[:i]))
        if dists:
            return sorted(dists)[0]
    return None


@lru_cache(maxsize=1)
def _declared_extras() -> dict[str, str]:
    """Canonical distribution name -> "[extra,...]" as pyproject.toml declares it."""
    data = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    extras: dict[str, str] = {}
    for req in data.get("project", {}).get("dependencies", []):
        m = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(\[[^\]]*\])?", req)
        if m and m.group(2):
            extras[_canonical(m.group(1))] = m.group(2).replace(" ", "")
    return extras


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def requirements_for(walk: ImportWalk, *, function: bool = True) -> list[str]:
    """Pinned requirement lines; a function also gets the runtime's functions-framework."""
    dists: set[str] = set(RUNTIME_DISTRIBUTIONS if function else ())
    unknown = []
    for group in sorted(walk.external):
        dist = next((d for n in group if (d := distribution_for(n))), None)
        if dist is None:
            unknown.append(group[0])
        else:
            dists.add(dist)
    by_canonical = {_canonical(d): d for d in dists}
    extras = _declared_extras()
    lines = []
    for canon in sorted(by_canonical):
        version = md.version(by_canonical[canon])
        lines.append(f"{canon}{extras.get(canon, '')}=={version}")
    return lines


# --- bundle --------------------------------------------------------------------------------------


def _tree_files(base: Path) -> list[Path]:
    out = []
    for dirpath, dirnames, filenames in os.walk(base):
        dirnames[:] = sorted(d for d in dirnames if d not in SKIP_DIRS and not d.startswith("."))
        for fn in filenames:
            p = Path(dirpath) / fn
            if fn.startswith(".") or p.suffix in SKIP_SUFFIXES:
                continue
            out.append(p)
    return out


def bundle_entries(name: str, functions_dir: Path = FUNCTIONS) -> dict[str, bytes]:
    """Archive name -> bytes of everything in the function's bundle."""
    fdir = functions_dir / name
    main = fdir / "main.py"
    if not main.is_file():
        raise SystemExit(f"functions/{name}/main.py is missing")
    entries: dict[str, bytes] = {}
    for p in _tree_files(fdir):
        rel = p.relative_to(fdir).as_posix()
        if rel == "requirements.txt":
            continue  # generated below, from the imports
        entries[rel] = p.read_bytes()
    walk = walk_imports(main)
    reached = {f.resolve() for f in walk.local_files}
    skipped = [d for d, user in ASSETS_OF.items() if (ROOT / user).resolve() not in reached]
    for p in _tree_files(SHARED):
        rel = p.relative_to(ROOT).as_posix()
        if not any(rel.startswith(d + "/") for d in skipped):
            entries[rel] = p.read_bytes()
    entries["requirements.txt"] = ("\n".join(requirements_for(walk)) + "\n").encode()
    return entries


def zip_bytes(entries: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for arcname in sorted(entries):
            info = zipfile.ZipInfo(arcname, date_time=ZIP_EPOCH)
            info.create_system = 3  # unix, so the mode below is honoured everywhere
            info.external_attr = FILE_MODE << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, entries[arcname], compress_type=zipfile.ZIP_DEFLATED, compresslevel=9)
    return buf.getvalue()


def _write_atomic(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    tmp.replace(path)


def build_function(name: str, out_dir: Path = DEFAULT_OUT, functions_dir: Path = FUNCTIONS) -> Path:
    data = zip_bytes(bundle_entries(name, functions_dir))
    target = out_dir / f"{name}.zip"
    if not target.is_file() or target.read_bytes() != data:
        _write_atomic(target, data)
    return target


def build_migrate_job(out_dir: Path) -> Path:
    """Docker build context of the `migrate` Cloud Run job: shared/ + its requirements."""
    walk = walk_imports(SHARED / "platform" / "migrate.py")
    if out_dir.exists():
        shutil.rmtree(out_dir)  # no stale files from an older shared/
    files = {p.relative_to(ROOT).as_posix(): p.read_bytes() for p in _tree_files(SHARED)}
    files["requirements.txt"] = ("\n".join(requirements_for(walk, function=False)) + "\n").encode()
    files["Dockerfile"] = MIGRATE_DOCKERFILE.encode()
    for rel, data in files.items():
        _write_atomic(out_dir / rel, data)
    return out_dir


def declared_functions() -> list[str]:
    import yaml  # PyYAML: a project dependency

    data = yaml.safe_load((SHARED / "resources.yaml").read_text(encoding="utf-8"))
    return [f["name"] for f in data["functions"]]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("names", nargs="*", help="functions to package (default: all declared)")
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT)
    ap.add_argument("--job", choices=["migrate"], help="build a Cloud Run job's Docker context")
    ap.add_argument("--print-requirements", action="store_true")
    args = ap.parse_args(argv)

    if args.job:
        out = build_migrate_job(ROOT / "build" / "jobs" / args.job)
        print(f"{args.job}: {out}")
        return 0
    names = args.names or declared_functions()
    for name in names:
        if args.print_requirements:
            print(f"# {name}")
            print("\n".join(requirements_for(walk_imports(FUNCTIONS / name / "main.py"))))
            continue
        path = build_function(name, args.out)
        data = path.read_bytes()
        digest = hashlib.sha256(data).hexdigest()[:16]
        shown = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path
        print(f"{name:20s} {len(data):>9,d} bytes  sha256:{digest}  {shown}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
