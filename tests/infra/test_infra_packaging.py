"""scripts/package.py: one reproducible bundle per function with only the requirements its code
imports, named in Terraform by content hash."""

from __future__ import annotations

import hashlib
import importlib.metadata as md
import io
import os
import re
import zipfile

import pytest
from infra_support import (
    FUNCTIONS_DIR,
    ROOT,
    function_dirs,
    hcl_expr,
    package_module,
    shared_tfeval,
    the_resource,
)

HEAVY = {
    "stripe": "stripe",
    "google-cloud-storage": "google.cloud.storage",
    "google-cloud-pubsub": "google.cloud.pubsub",
    "google-cloud-tasks": "google.cloud.tasks",
    "jinja2": "jinja2",
}


@pytest.fixture(scope="module")
def package():
    return package_module()


@pytest.fixture
def probe(tmp_path):
    """A throw-away function directory outside the repo, importing from the real shared/."""
    functions = tmp_path / "functions"
    (functions / "probe").mkdir(parents=True)

    def write(source: str, **extra: str) -> str:
        (functions / "probe" / "main.py").write_text(source)
        for name, text in extra.items():
            (functions / "probe" / name).write_text(text)
        return "probe"

    write.functions = functions
    return write


def requirement_names(lines: list[str]) -> set[str]:
    return {re.split(r"[\[=]", line, maxsplit=1)[0] for line in lines if line.strip()}


def zip_requirements(data: bytes) -> list[str]:
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        return zf.read("requirements.txt").decode().splitlines()


# --- reproducibility and layout ---------------------------------------------------------------


def test_same_input_gives_the_same_bytes(package, probe, tmp_path):
    name = probe("import functions_framework\nfrom shared import config\n")
    first = package.build_function(name, tmp_path / "a", probe.functions).read_bytes()
    os.utime(probe.functions / name / "main.py", (1_700_000_000, 1_700_000_000))
    old_umask = os.umask(0o077)
    try:
        second = package.build_function(name, tmp_path / "b", probe.functions).read_bytes()
    finally:
        os.umask(old_umask)
    assert first == second
    assert package.build_function(name, tmp_path / "a", probe.functions).read_bytes() == first


def test_changed_input_changes_the_bytes(package, probe, tmp_path):
    name = probe("import functions_framework\n")
    first = package.build_function(name, tmp_path / "a", probe.functions).read_bytes()
    probe("import functions_framework\n# changed\n")
    second = package.build_function(name, tmp_path / "b", probe.functions).read_bytes()
    assert first != second


@pytest.mark.parametrize("name", function_dirs()[:3])
def test_real_function_bundle_is_reproducible(package, tmp_path, name):
    a = package.build_function(name, tmp_path / "a").read_bytes()
    b = package.build_function(name, tmp_path / "b").read_bytes()
    assert a == b


def test_bundle_layout_and_fixed_metadata(package, probe, tmp_path):
    name = probe("import functions_framework\nfrom shared import config\n", helper_x="x = 1\n")
    data = package.build_function(name, tmp_path, probe.functions).read_bytes()
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        infos = zf.infolist()
    names = [i.filename for i in infos]
    assert names == sorted(names), "entries must be sorted"
    assert "main.py" in names and "requirements.txt" in names and "helper_x" in names
    assert "shared/__init__.py" in names and "shared/resources.yaml" in names
    migrations = sorted(p.name for p in (ROOT / "shared" / "migrations").glob("*.sql"))
    assert migrations, "no migrations to check"
    for m in migrations:
        assert f"shared/migrations/{m}" in names
    for t in (ROOT / "shared" / "pages" / "templates").rglob("*"):
        if t.is_file() and "__pycache__" not in t.parts:
            assert t.relative_to(ROOT).as_posix() in names
    assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc")]
    for info in infos:
        assert info.date_time == (1980, 1, 1, 0, 0, 0), info.filename
        assert info.external_attr >> 16 == 0o100644, info.filename
        assert info.create_system == 3


def test_a_declared_function_without_main_py_cannot_be_packaged(package, tmp_path):
    with pytest.raises(SystemExit, match=r"main\.py is missing"):
        package.build_function("no_such_function", tmp_path, tmp_path)


# --- requirements ---------------------------------------------------------------------------------


def test_requirements_hold_only_what_the_code_imports(package, probe, tmp_path):
    name = probe(
        "from typing import TYPE_CHECKING\n"
        "import functions_framework\n"
        "from shared.platform import config\n"
        "if TYPE_CHECKING:\n"
        "    import stripe\n"
        "def render():\n"
        "    import jinja2  # lazy imports count: they run when called\n"
        "    return jinja2\n"
    )
    lines = zip_requirements(package.build_function(name, tmp_path, probe.functions).read_bytes())
    assert requirement_names(lines) == {"functions-framework", "pydantic", "jinja2"}
    extras = package._declared_extras().get("pydantic", "")  # as pyproject.toml declares it
    assert f"pydantic{extras}==" + md.version("pydantic") in lines


def test_requirements_are_pinned_to_the_installed_versions(package, probe, tmp_path):
    name = probe(
        "import functions_framework\nimport yaml\nimport argon2\nfrom shared.platform import db\n"
    )
    lines = zip_requirements(package.build_function(name, tmp_path, probe.functions).read_bytes())
    for line in lines:
        m = re.fullmatch(r"([a-z0-9-]+)(\[[a-z0-9,-]+\])?==(\S+)", line)
        assert m, f"not a pinned requirement: {line!r}"
        assert md.version(m.group(1)) == m.group(3), line
    expected = {"pyyaml", "argon2-cffi", "pg8000", "cloud-sql-python-connector"}
    assert expected <= requirement_names(lines)


@pytest.mark.parametrize(
    ("module", "distribution"),
    [
        ("google.cloud.storage", "google-cloud-storage"),
        ("google.cloud.pubsub_v1", "google-cloud-pubsub"),
        ("google.cloud.sql.connector", "cloud-sql-python-connector"),
        ("google.cloud.tasks_v2", "google-cloud-tasks"),
        ("jinja2", "Jinja2"),
        ("yaml", "PyYAML"),
        ("argon2", "argon2-cffi"),
        ("functions_framework", "functions-framework"),
    ],
)
def test_import_names_map_to_their_distribution(package, module, distribution):
    assert package.distribution_for(module) == distribution


@pytest.mark.parametrize("name", function_dirs())
def test_each_function_ships_no_heavy_library_it_does_not_import(package, tmp_path, name):
    lines = zip_requirements(package.build_function(name, tmp_path).read_bytes())
    shipped = requirement_names(lines)
    walk = package.walk_imports(FUNCTIONS_DIR / name / "main.py")
    modules = {candidate for group in walk.external for candidate in group}
    for dist, module in HEAVY.items():
        if dist in shipped:
            assert any(m == module or m.startswith(module) for m in modules), (
                f"{name} ships {dist} but none of its modules imports {module}"
            )
    if name == "auth":
        assert not shipped & {"stripe", "google-cloud-storage"}, shipped


# --- Terraform: one object per content hash ------------------------------------------------------


def test_terraform_uploads_each_zip_under_its_content_hash(package, probe, tmp_path_factory):
    tfeval = shared_tfeval(tmp_path_factory)
    name = probe("import functions_framework\n")
    zip_dir = tfeval.scratch / "build" / "functions"  # var.source_zip_dir's default
    data = package.build_function(name, zip_dir, probe.functions).read_bytes()
    obj = the_resource("google_storage_bucket_object", "source")
    got = tfeval.eval(tfeval.per_instance(f'{{ {name} = "" }}', hcl_expr(obj["name"])))
    assert got == {name: f"functions/{name}/{hashlib.sha256(data).hexdigest()}.zip"}
    assert hcl_expr(obj["source"]).endswith('/${each.key}.zip"')


def test_migrate_job_context(package, tmp_path):
    out = package.build_migrate_job(tmp_path / "migrate")
    assert (
        (out / "Dockerfile")
        .read_text()
        .strip()
        .endswith('CMD ["python", "-m", "shared.platform.migrate"]')
    )
    assert (out / "shared" / "platform" / "migrate.py").is_file()
    names = requirement_names((out / "requirements.txt").read_text().splitlines())
    assert "pg8000" in names and "functions-framework" not in names
    assert not names & {"stripe", "google-cloud-storage"}
