"""On the device, one local repository owns the ``resources`` and ``search`` tables: outside
:mod:`bedside.device.records` no device module names either in SQL."""

from __future__ import annotations

import re

from tests.unit._sql_names import SQL_BEFORE, SRC, naming

_DEVICE_TABLE = re.compile(rf"{SQL_BEFORE}(?:resources|search)\b", re.IGNORECASE)
_OWNER = SRC / "device" / "records.py"


def _outside_records() -> list[str]:
    return naming((p for p in (SRC / "device").rglob("*.py") if p != _OWNER), _DEVICE_TABLE)


def test_no_device_module_but_records_names_resources_or_search() -> None:
    assert _outside_records() == []


def test_the_pattern_sees_the_tables_in_sql_only() -> None:
    for text in (
        "DELETE FROM search WHERE type = ? AND id = ?",
        "INSERT INTO resources (type, id) VALUES (?, ?)",
        "SELECT r.patient FROM search s JOIN resources r ON r.type = s.type",
        "CREATE TEMP TRIGGER t AFTER INSERT ON main.resources BEGIN SELECT 1; END",
        "UPDATE resources SET server_version = ?",
    ):
        assert _DEVICE_TABLE.search(text), text
    for text in ("resources", "the search index", "INSERT INTO purge_log (resources) VALUES (?)"):
        assert not _DEVICE_TABLE.search(text), text


def test_the_owner_itself_names_them() -> None:
    assert naming(iter([_OWNER]), _DEVICE_TABLE)
