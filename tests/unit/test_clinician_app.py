"""The clinician app's pure parts: what it may import, its gate, its paths, its chart bands."""

from __future__ import annotations

import ast
import importlib
import pkgutil
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

import bedside.device.app as app_package
from bedside.clinical.news2 import Parameter
from bedside.device.app import views
from bedside.device.app.gate import Gate
from bedside.device.app.news2_svg import bands
from bedside.device.app.pages import safe_next

APP_DIR = Path(app_package.__file__).parent
SERVER_PACKAGES = ("auth", "store", "rest", "web", "sync", "policy", "audit", "consent")


def modules() -> list[Path]:
    return sorted(APP_DIR.glob("*.py"))


def test_the_app_imports_the_device_side_only_never_the_server() -> None:
    for path in modules():
        tree = ast.parse(path.read_text("utf-8"))
        for node in ast.walk(tree):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            for name in names:
                parts = name.split(".")
                if parts[0] == "bedside" and len(parts) > 1:
                    assert parts[1] not in SERVER_PACKAGES, f"{path.name} imports {name}"


def _isort_style(name: str) -> tuple[int, str]:
    """Ruff's RUF022 order: CONSTANTS, then Classes, then functions."""
    return (0 if name.isupper() else 1 if name[0].isupper() else 2, name)


def test_every_app_module_stays_under_400_lines_and_lists_its_api_sorted() -> None:
    for path in modules():
        assert len(path.read_text("utf-8").splitlines()) < 400, path.name
    for info in pkgutil.iter_modules([str(APP_DIR)]):
        module = importlib.import_module(f"bedside.device.app.{info.name}")
        exported = list(module.__all__)
        assert exported == sorted(exported, key=_isort_style), info.name
        assert all(hasattr(module, name) for name in exported), info.name


def test_the_launch_token_opens_one_session_once() -> None:
    gate = Gate(4321)
    token = gate.launch_url().split("token=", 1)[1]
    assert gate.exchange("wrong") is None
    assert gate.launch_url()  # a wrong guess did not spend it
    session = gate.exchange(token)
    assert session is not None and gate.admits(session)
    assert gate.exchange(token) is None and gate.launch_url() == ""
    assert not gate.admits("other") and not gate.admits(None)
    assert gate.csrf_ok(gate.csrf) and not gate.csrf_ok("x") and not gate.csrf_ok(None)
    assert gate.hosts == {"127.0.0.1:4321", "localhost:4321"}


@pytest.mark.parametrize(
    ("asked", "goes"),
    [
        ("/patients/p1/observe", "/patients/p1/observe"),
        ("//evil.example/x", "/patients"),
        ("http://evil.example/", "/patients"),
        ("/patients?name=Alba", "/patients"),
        ("/unlock", "/patients"),
        ("/patients/p1\\..", "/patients"),
        (None, "/patients"),
    ],
)
def test_after_unlocking_the_browser_returns_only_to_a_local_path(
    asked: str | None, goes: str
) -> None:
    assert safe_next(asked) == goes


def test_the_chart_bands_come_from_the_rule_and_match_the_rcp_table() -> None:
    def runs(p: Parameter) -> list[tuple[str, str, int]]:
        return [(str(a), str(b), s) for a, b, s in bands(p)]

    assert runs(Parameter.RESPIRATION_RATE) == [
        ("4", "8", 3),
        ("9", "11", 1),
        ("12", "20", 0),
        ("21", "24", 2),
        ("25", "40", 3),
    ]
    assert runs(Parameter.SPO2) == [
        ("80", "91", 3),
        ("92", "93", 2),
        ("94", "95", 1),
        ("96", "100", 0),
    ]
    assert runs(Parameter.SYSTOLIC_BP) == [
        ("60", "90", 3),
        ("91", "100", 2),
        ("101", "110", 1),
        ("111", "219", 0),
        ("220", "240", 3),
    ]
    assert runs(Parameter.PULSE) == [
        ("30", "40", 3),
        ("41", "50", 1),
        ("51", "90", 0),
        ("91", "110", 1),
        ("111", "130", 2),
        ("131", "170", 3),
    ]
    assert [(a, b, s) for a, b, s in bands(Parameter.TEMPERATURE)] == [
        (Decimal("33.0"), Decimal("35.0"), 3),
        (Decimal("35.1"), Decimal("36.0"), 1),
        (Decimal("36.1"), Decimal("38.0"), 0),
        (Decimal("38.1"), Decimal("39.0"), 1),
        (Decimal("39.1"), Decimal("41.0"), 2),
    ]


def test_ages_times_and_values_read_as_a_ward_chart_writes_them() -> None:
    assert views.age("1950-02-03", date(2026, 2, 2)) == "75 y"
    assert views.age("1950-02-03", date(2026, 2, 3)) == "76 y"
    assert views.age("2025-01-20", date(2026, 3, 1)) == "13 mo"
    assert views.born("1950-02-03") == "3 Feb 1950" and views.born(None) == "not recorded"
    assert views.since(1000.0, 1030.0) == "just now"
    assert views.since(1000.0, 1000.0 + 3 * 3600) == "3 h ago"
    assert views.since(None) == "never"
    air = {
        "resourceType": "Observation",
        "code": {"coding": [{"system": "http://snomed.info/sct", "code": "722742002"}]},
        "valueBoolean": False,
    }
    assert views.value_text(air) == "Oxygen"
    bp = {
        "resourceType": "Observation",
        "component": [
            {"valueQuantity": {"value": 128, "unit": "mmHg"}},
            {"valueQuantity": {"value": 76, "unit": "mmHg"}},
        ],
    }
    assert views.value_text(bp) == "128/76 mmHg"
    assert views.state_label("pending") == "saved on device"
    assert views.state_label("confirmed") == "confirmed"
    assert views.state_label(None) == "from server"
