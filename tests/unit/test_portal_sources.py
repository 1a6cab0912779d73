"""Source lines and conflicting values on the portal (bedside.portal.sources, bedside.origin):
the authority wins, without one the newer is first and the page says none is the main one, the
same value from two sources is no conflict, and a raw system URI is never the label."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import orjson
import pytest

from bedside.origin import SOURCE_NAME, named_meta, source_line, source_name
from bedside.portal.details import detail_lines
from bedside.portal.record import when_words
from bedside.portal.results import group_results
from bedside.portal.sources import PortalSources
from bedside.upstream.config import UpstreamError, parse

LAB = "urn:oid:1.2.3.10"
CLINIC = "urn:oid:1.2.3.20"


def _config(authority: str = "") -> PortalSources:
    text = (
        (f'[authority]\nobservation = "{authority}"\n' if authority else "")
        + f'[source.lab]\nkind = "hl7v2"\nlabel = "Hospital lab"\nsystem = "{LAB}"\n'
        'files = "in-lab"\n'
        f'[source.clinic]\nkind = "hl7v2"\nsystem = "{CLINIC}"\nfiles = "in-clinic"\n'
    )
    return PortalSources(parse(text, source="upstream.toml", data_dir=Path("/tmp")))


def _glucose(value: float, system: str | None, updated: str, named: bool = False) -> Any:
    meta: dict[str, Any] = {"lastUpdated": updated}
    if system:
        meta["source"] = system
    if named and system:
        meta = named_meta(meta, system, "Named in the resource")
    return {
        "resourceType": "Observation",
        "id": f"o{value:g}".replace(".", "-"),
        "status": "final",
        "category": [{"coding": [{"code": "laboratory"}]}],
        "code": {"coding": [{"system": "http://loinc.org", "code": "2345-7"}], "text": "Glucose"},
        "effectiveDateTime": "2026-03-01T13:00:00Z",
        "valueQuantity": {"value": value, "unit": "mmol/L"},
        "meta": meta,
    }


def test_the_authoritative_source_is_shown_and_the_other_value_under_it() -> None:
    found = [
        _glucose(5.9, CLINIC, "2026-03-02T00:00:00Z"),  # newer, but not the authority
        _glucose(5.4, LAB, "2026-03-01T00:00:00Z"),
    ]
    [test] = group_results(found, sources=_config("lab"), day=when_words)
    [shown] = test.results
    assert shown.value == "5.4 mmol/L"
    assert shown.source == "From Hospital lab, received 1 March 2026"
    [other] = shown.others
    assert (other.source, other.value) == ("clinic", "5.9 mmol/L")
    assert other.line == "From clinic, received 2 March 2026"  # the table name without a label
    assert shown.main == "Hospital lab is the main source for results, so its value is shown first."


def test_without_an_authority_the_newer_is_first_and_the_page_says_so() -> None:
    found = [_glucose(5.4, LAB, "2026-03-01T00:00:00Z"), _glucose(5.9, CLINIC, "2026-03-02")]
    [test] = group_results(found, sources=_config(), day=when_words)
    [shown] = test.results
    assert shown.value == "5.9 mmol/L" and shown.others[0].value == "5.4 mmol/L"
    assert "No source is set as the main one for results" in shown.main


def test_bedsides_own_value_is_not_preferred_and_an_absent_authority_is_said() -> None:
    own = _glucose(6.1, None, "2026-03-01T00:00:00Z")  # recorded in Bedside, older
    found = [own, _glucose(5.9, CLINIC, "2026-03-02T00:00:00Z")]
    [test] = group_results(found, sources=_config(), day=when_words)
    [shown] = test.results
    assert shown.value == "5.9 mmol/L"
    assert (shown.others[0].source, shown.others[0].line) == ("Bedside", "Recorded in Bedside")
    [test] = group_results(found, sources=_config("lab"), day=when_words)
    assert test.results[0].value == "5.9 mmol/L"
    assert test.results[0].main.startswith("Neither value is from Hospital lab, the main source")


def test_the_same_value_from_two_sources_or_one_source_twice_is_no_conflict() -> None:
    same = [_glucose(5.4, LAB, "2026-03-01"), {**_glucose(5.4, CLINIC, "2026-03-02"), "id": "b"}]
    [test] = group_results(same, sources=_config("lab"), day=when_words)
    assert len(test.results) == 2 and not any(r.others for r in test.results)
    twice = [_glucose(5.4, LAB, "2026-03-01"), _glucose(5.9, LAB, "2026-03-02")]
    [test] = group_results(twice, sources=_config("lab"), day=when_words)
    assert len(test.results) == 2 and not any(r.others for r in test.results)


def test_the_name_in_the_resource_wins_and_an_unknown_system_is_never_the_label() -> None:
    named = _glucose(5.4, LAB, "2026-03-01", named=True)
    assert source_name(named, {LAB: "Hospital lab"}) == "Named in the resource"
    assert [e["url"] for e in named["meta"]["extension"]] == [SOURCE_NAME]
    unknown = _glucose(5.4, "https://elsewhere.example/fhir", "2026-03-01")
    assert source_line(unknown, when_words) == "Recorded in Bedside"
    assert source_line(unknown, when_words, otherwise="Valley Lab") == "Valley Lab"
    assert source_line(_glucose(5.4, None, "2026-03-01"), when_words) == "Recorded in Bedside"


@pytest.mark.parametrize("label", ["", "x" * 81, "two\nlines"])
def test_a_bad_label_stops_the_start_with_one_sentence(label: str) -> None:
    text = f'[source.lab]\nkind = "hl7v2"\nfiles = "in"\nlabel = {json.dumps(label)}\n'
    with pytest.raises(UpstreamError, match="label must be"):
        parse(text, source="u.toml", data_dir=Path("/"))


def test_held_details_show_under_the_records_own_and_a_bad_variant_is_skipped() -> None:
    me = {
        "resourceType": "Patient",
        "name": [{"use": "official", "given": ["Alex"], "family": "Example"}],
        "telecom": [{"system": "phone", "value": "555-0100"}],
        "meta": named_meta({}, LAB, "Hospital lab"),
    }
    theirs = {**me, "telecom": [{"system": "phone", "value": "555-0199"}]}
    held = [("clinic", orjson.dumps(theirs)), ("clinic", b"not json")]
    lines = {label: rest for label, *rest in detail_lines(me, held, _config(), when_words)}
    assert set(lines) == {"Name", "Phone"}  # nothing recorded, nothing listed
    value, others, main = lines["Phone"]
    assert value == "555-0100" and [(o.source, o.value) for o in others] == [("clinic", "555-0199")]
    assert main.startswith("Ask your care team which is right")
    assert lines["Name"][1] == ()  # the same name: no other value
