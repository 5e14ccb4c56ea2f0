"""Landed migrations are frozen: shared/migrations/CHECKSUMS (`sha256sum` format, so
`cd shared/migrations && sha256sum -c CHECKSUMS` checks it too) holds the sha256 of every
migration file. The runner refuses a file that changed after it was applied, on every
database that applied it, so a change belongs in a new migration; a new migration adds its
line here."""

import hashlib
from pathlib import Path

import pytest

MIGRATIONS = Path(__file__).resolve().parents[3] / "shared" / "migrations"
PATTERN = "[0-9][0-9][0-9][0-9]_*.sql"  # what shared/platform/migrate.py applies


def parse_checksums(text: str) -> dict[str, str]:
    """`<sha256>  <file name>` lines -> {file name: sha256}; a malformed line is an error."""
    listed: dict[str, str] = {}
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        digest, sep, name = line.partition("  ")
        assert sep and len(digest) == 64 and all(c in "0123456789abcdef" for c in digest), (
            f"CHECKSUMS line {n} is not `<sha256>  <file>`: {line!r}"
        )
        assert name not in listed, f"CHECKSUMS lists {name} twice"
        listed[name] = digest
    return listed


def frozen_violations(directory: Path, listed: dict[str, str]) -> list[str]:
    """Every way the migration files in `directory` disagree with the list."""
    files = {p.name: p for p in directory.glob(PATTERN)}
    problems = [f"{name} is not listed in CHECKSUMS" for name in sorted(set(files) - set(listed))]
    problems += [f"{name} is listed but missing" for name in sorted(set(listed) - set(files))]
    for name in sorted(set(files) & set(listed)):
        if hashlib.sha256(files[name].read_bytes()).hexdigest() != listed[name]:
            problems.append(f"{name} changed after it landed: add a new migration instead")
    return problems


def test_every_migration_matches_its_committed_checksum():
    listed = parse_checksums((MIGRATIONS / "CHECKSUMS").read_text(encoding="utf-8"))
    assert listed, "CHECKSUMS lists no migration"
    assert frozen_violations(MIGRATIONS, listed) == []


@pytest.fixture
def landed(tmp_path):
    (tmp_path / "0001_a.sql").write_bytes(b"CREATE TABLE a ();\n")
    (tmp_path / "0002_b.sql").write_bytes(b"CREATE TABLE b ();\n")
    (tmp_path / "notes.txt").write_text("not a migration")
    return tmp_path, {
        "0001_a.sql": hashlib.sha256(b"CREATE TABLE a ();\n").hexdigest(),
        "0002_b.sql": hashlib.sha256(b"CREATE TABLE b ();\n").hexdigest(),
    }


def test_the_check_passes_when_files_and_list_agree(landed):
    directory, listed = landed
    assert frozen_violations(directory, listed) == []


def test_an_edited_migration_is_reported(landed):
    directory, listed = landed
    (directory / "0001_a.sql").write_bytes(b"CREATE TABLE a (id int);\n")
    assert frozen_violations(directory, listed) == [
        "0001_a.sql changed after it landed: add a new migration instead"
    ]


def test_an_unlisted_and_a_missing_migration_are_reported(landed):
    directory, listed = landed
    (directory / "0003_c.sql").write_bytes(b"SELECT 1;\n")
    (directory / "0002_b.sql").unlink()
    assert frozen_violations(directory, listed) == [
        "0003_c.sql is not listed in CHECKSUMS",
        "0002_b.sql is listed but missing",
    ]


def test_a_malformed_line_is_an_error():
    with pytest.raises(AssertionError, match="line 2"):
        parse_checksums("a" * 64 + "  0001_a.sql\nnot-a-digest 0002_b.sql\n")
