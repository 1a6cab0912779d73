"""The FHIR store's schema is private to ``bedside.store``: no other server module names its
tables (``resources``, ``resource_versions``, ``idx_*``, ``change_feed``) in SQL. What they need
of it are named queries (:mod:`bedside.store.queries`, :mod:`bedside.store.feed`, the Session).

The device (``bedside.device``) has tables of its own with some of the same names; its rule is
in ``test_device_records_private.py``.
"""

from __future__ import annotations

import re

from tests.unit._sql_names import SQL_BEFORE, SRC, literals, naming

#: A store table after a SQL word, or a name only the store's schema uses, anywhere.
_STORE_TABLE = re.compile(
    rf"{SQL_BEFORE}(?:resources|resource_versions|change_feed|idx_\w+)\b"
    r"|\b(?:resource_versions|change_feed|idx_(?:token|string|date|reference|quantity))\b",
    re.IGNORECASE,
)


def _outside_store() -> list[str]:
    paths = (p for p in SRC.rglob("*.py") if p.relative_to(SRC).parts[0] not in ("store", "device"))
    return naming(paths, _STORE_TABLE)


def test_no_module_outside_the_store_names_its_tables() -> None:
    assert _outside_store() == []


def test_the_pattern_sees_store_tables_in_sql_only() -> None:
    # The pattern the check applies, on the forms SQL takes in the code.
    for text in (
        "SELECT rid FROM idx_reference WHERE param = ?",
        "SELECT r.id FROM resources r JOIN resource_versions v ON v.rid = r.rid",
        "INSERT INTO change_feed (seq) VALUES (?)",
        "x.rid IN (SELECT 1 FROM resources WHERE deleted = ?)",
    ):
        assert _STORE_TABLE.search(text), text
    for text in ("resources", "bulk export completed: {} resources", "the search index"):
        assert not _STORE_TABLE.search(text), text


def test_literals_skip_docstrings_and_read_f_strings() -> None:
    path = SRC / "store" / "queries.py"
    texts = [t for _, t in literals(path)]
    assert not any(t.startswith("Named lookups") for t in texts)  # the module docstring
    assert any("idx_token t WHERE t.param" in t for t in texts)  # parts of an f-string
