"""Versioned schema migrations: ``schema/<dialect>/NNNN_name.sql``, applied in order at start.

Each file runs in its own transaction together with its row in ``schema_migrations``, so a
failed migration leaves the schema at the previous version. Files are never edited once released;
a change is a new file (tests apply every version on both backends).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import resources

__all__ = ["Migration", "latest_version", "migrations"]

_NAME = re.compile(r"(\d{4})_([a-z0-9_]+)\.sql")


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    name: str
    sql: str


def migrations(dialect: str) -> list[Migration]:
    """All migrations of a dialect ("sqlite" or "postgresql"), oldest first."""
    folder = resources.files("bedside.store").joinpath("schema", dialect)
    found: list[Migration] = []
    for entry in folder.iterdir():
        m = _NAME.fullmatch(entry.name)
        if m:
            found.append(Migration(int(m.group(1)), m.group(2), entry.read_text("utf-8")))
    found.sort(key=lambda mg: mg.version)
    versions = [mg.version for mg in found]
    if versions != list(range(1, len(found) + 1)):
        raise RuntimeError(f"migration versions for {dialect} are not 1..n: {versions}")
    return found


def latest_version(dialect: str) -> int:
    return len(migrations(dialect))
