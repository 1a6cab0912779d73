"""Search request parsing, date and number ranges, and index extraction (FHIR R4 search.html).

Pure unit tests: no store. Behaviour against real databases is in
``tests/integration/test_search.py``.
"""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest

from bedside.errors import InvalidRequest
from bedside.fhir.dates import MAX_MS, MIN_MS, parse_range
from bedside.fhir.resource_types import NOT_STORED, RESOURCE_TYPES
from bedside.fhir.search.extract import (
    date_range,
    extract,
    normalize,
    quantity,
    reference,
    strings,
    tokens,
)
from bedside.fhir.search.query import DEFAULT_COUNT, MAX_COUNT, SearchQuery, parse_search
from bedside.fhir.search.registry import params_for
from bedside.fhir.search.values import RangeValue, ReferenceValue, TokenValue, split_values
from bedside.rest.paging import Cursor

UCUM = "http://unitsofmeasure.org"


def ms(text: str) -> int:
    """UTC milliseconds of an ISO instant (test oracle independent of bedside.fhir.dates)."""
    value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return int(value.timestamp() * 1000)


def q(rtype: str, *pairs: tuple[str, str], lenient: bool = False) -> SearchQuery:
    return parse_search(rtype, list(pairs), lenient=lenient)


def only_values(query: SearchQuery) -> tuple[Any, ...]:
    (clause,) = query.clauses
    return clause.values


# --- dates (datatypes.html#dateTime, search.html#date) ---------------------------------------


@pytest.mark.parametrize(
    ("text", "low", "high"),
    [
        ("2024", "2024-01-01T00:00:00Z", "2024-12-31T23:59:59.999Z"),
        ("2024-03", "2024-03-01T00:00:00Z", "2024-03-31T23:59:59.999Z"),
        ("2024-02", "2024-02-01T00:00:00Z", "2024-02-29T23:59:59.999Z"),  # leap year
        ("2023-02", "2023-02-01T00:00:00Z", "2023-02-28T23:59:59.999Z"),
        ("2024-12", "2024-12-01T00:00:00Z", "2024-12-31T23:59:59.999Z"),
        ("2024-03-15", "2024-03-15T00:00:00Z", "2024-03-15T23:59:59.999Z"),
        ("2024-03-15T10:30Z", "2024-03-15T10:30:00Z", "2024-03-15T10:30:59.999Z"),
        ("2024-03-15T10:30:05Z", "2024-03-15T10:30:05Z", "2024-03-15T10:30:05.999Z"),
        ("2024-03-15T10:30:05.250Z", "2024-03-15T10:30:05.250Z", "2024-03-15T10:30:05.250Z"),
    ],
)
def test_imprecise_date_covers_its_whole_period(text: str, low: str, high: str) -> None:
    assert parse_range(text) == (ms(low), ms(high))


def test_time_zone_offset_is_converted_to_utc() -> None:
    assert parse_range("2024-03-15T23:30:00-05:00") == parse_range("2024-03-16T04:30:00Z")
    assert parse_range("2024-03-15T10:00:00+01:00") == parse_range("2024-03-15T09:00:00Z")
    assert parse_range("2024-03-15T10:00:00+00:00") == parse_range("2024-03-15T10:00:00Z")


def test_date_without_time_zone_is_read_as_utc() -> None:
    assert parse_range("2024-03-15T10:00:00") == parse_range("2024-03-15T10:00:00Z")


@pytest.mark.parametrize(
    "text",
    ["", "24", "2024-3", "2024-13", "2024-02-30", "2024-03-15T25:00:00Z", "march", "2024/03"],
)
def test_malformed_or_impossible_date_has_no_range(text: str) -> None:
    assert parse_range(text) is None


# --- numbers and quantities (search.html#number, #quantity) -----------------------------------


@pytest.mark.parametrize(
    ("text", "low", "high"),
    [
        ("5.4", 5.35, 5.45),
        ("100", 99.5, 100.5),
        ("100.00", 99.995, 100.005),
        ("1e2", 50.0, 150.0),
        ("-5.4", -5.45, -5.35),
        ("0", -0.5, 0.5),
    ],
)
def test_number_without_prefix_means_the_range_its_precision_implies(
    text: str, low: float, high: float
) -> None:
    (value,) = only_values(q("Observation", ("value-quantity", text)))
    assert isinstance(value, RangeValue)
    assert value.prefix == "eq"
    assert value.low == pytest.approx(low)
    assert value.high == pytest.approx(high)


@pytest.mark.parametrize("prefix", ["eq", "ne", "gt", "lt", "ge", "le", "sa", "eb", "ap"])
def test_every_prefix_is_recognised_on_numbers(prefix: str) -> None:
    (value,) = only_values(q("Observation", ("value-quantity", f"{prefix}5.4")))
    assert isinstance(value, RangeValue)
    assert (value.prefix, value.value) == (prefix, pytest.approx(5.4))


def test_quantity_system_and_code_are_split_off_the_number() -> None:
    (value,) = only_values(
        q("Observation", ("value-quantity", "gt5.4|http://unitsofmeasure.org|mg"))
    )
    assert isinstance(value, RangeValue)
    assert (value.prefix, value.system, value.code) == ("gt", "http://unitsofmeasure.org", "mg")
    (value,) = only_values(q("Observation", ("value-quantity", "5.4||mg")))
    assert isinstance(value, RangeValue)
    assert (value.system, value.code) == (None, "mg")


@pytest.mark.parametrize("text", ["abc", "5,4x", "gt", "5.4.1", "NaN", "Infinity", "-inf", ""])
def test_invalid_number_is_rejected(text: str) -> None:
    with pytest.raises(InvalidRequest):
        q("Observation", ("value-quantity", text))


# --- date values ----------------------------------------------------------------------------


@pytest.mark.parametrize("prefix", ["eq", "ne", "gt", "lt", "ge", "le", "sa", "eb", "ap"])
def test_every_prefix_is_recognised_on_dates(prefix: str) -> None:
    (value,) = only_values(q("Observation", ("date", f"{prefix}2024-03")))
    assert isinstance(value, RangeValue)
    assert value.prefix == prefix
    assert (value.low, value.high) == (ms("2024-03-01T00:00:00Z"), ms("2024-03-31T23:59:59.999Z"))


def test_date_without_prefix_means_eq() -> None:
    (value,) = only_values(q("Patient", ("birthdate", "1980")))
    assert isinstance(value, RangeValue)
    assert value.prefix == "eq"


@pytest.mark.parametrize("text", ["2024-13", "abc", "gt", "lt2024-02-30", "2024-03-15T10:00:00X"])
def test_invalid_date_is_rejected(text: str) -> None:
    with pytest.raises(InvalidRequest):
        q("Observation", ("date", text))


# --- tokens (search.html#token) -------------------------------------------------------------


def test_token_code_alone_matches_any_system() -> None:
    assert only_values(q("Observation", ("code", "8867-4"))) == (TokenValue(None, "8867-4"),)


def test_token_system_and_code() -> None:
    assert only_values(q("Observation", ("code", "http://loinc.org|8867-4"))) == (
        TokenValue("http://loinc.org", "8867-4"),
    )


def test_token_leading_bar_means_no_system() -> None:
    assert only_values(q("Observation", ("code", "|x"))) == (TokenValue("", "x"),)


def test_token_trailing_bar_means_any_code_in_the_system() -> None:
    assert only_values(q("Observation", ("code", "http://loinc.org|"))) == (
        TokenValue("http://loinc.org", None),
    )


def test_commas_separate_alternatives_and_repeats_are_separate_clauses() -> None:
    query = q("Patient", ("identifier", "a|1,b|2"), ("identifier", "c|3"))
    assert [c.values for c in query.clauses] == [
        (TokenValue("a", "1"), TokenValue("b", "2")),
        (TokenValue("c", "3"),),
    ]


def test_escaped_comma_is_part_of_the_value() -> None:
    assert split_values(r"a\,b,c") == ["a,b", "c"]
    assert split_values(r"a\\b") == ["a\\b"]
    assert only_values(q("Patient", ("family", r"Smith\,Jr"))) == ("Smith,Jr",)


def test_escaped_bar_is_part_of_the_token_code() -> None:
    assert only_values(q("Patient", ("identifier", r"urn:sys|a\|b"))) == (
        TokenValue("urn:sys", "a|b"),
    )
    assert only_values(q("Patient", ("identifier", r"a\|b"))) == (TokenValue(None, "a|b"),)


def test_not_modifier_is_kept_on_the_clause() -> None:
    (clause,) = q("Observation", ("code:not", "8867-4")).clauses
    assert clause.modifier == "not"


@pytest.mark.parametrize("raw", ["true", "false"])
def test_missing_modifier_takes_true_or_false(raw: str) -> None:
    (clause,) = q("Patient", ("birthdate:missing", raw)).clauses
    assert clause.missing is (raw == "true")


def test_missing_modifier_rejects_other_values() -> None:
    with pytest.raises(InvalidRequest):
        q("Patient", ("birthdate:missing", "yes"))


# --- strings and references -----------------------------------------------------------------


@pytest.mark.parametrize("modifier", ["exact", "contains"])
def test_string_modifiers_are_accepted(modifier: str) -> None:
    (clause,) = q("Patient", (f"name:{modifier}", "Jos")).clauses
    assert clause.modifier == modifier
    assert clause.values == ("Jos",)


@pytest.mark.parametrize(
    ("name", "raw", "expected"),
    [
        ("patient", "Patient/1", ReferenceValue("Patient", "1")),
        ("patient", "1", ReferenceValue(None, "1")),
        ("subject:Patient", "1", ReferenceValue("Patient", "1")),
        ("subject", "Patient/1", ReferenceValue("Patient", "1")),
        (
            "subject",
            "http://other.org/fhir/Patient/1",
            ReferenceValue("", "http://other.org/fhir/Patient/1"),
        ),
    ],
)
def test_reference_value_forms(name: str, raw: str, expected: ReferenceValue) -> None:
    assert only_values(q("Observation", (name, raw))) == (expected,)


def test_reference_type_modifier_must_be_a_resource_type() -> None:
    with pytest.raises(InvalidRequest):
        q("Observation", ("subject:Nonsense", "1"))


# --- errors (search.html#errors) ------------------------------------------------------------


def test_unknown_parameter_is_an_error() -> None:
    with pytest.raises(InvalidRequest, match="nonsense"):
        q("Patient", ("nonsense", "1"))


def test_parameter_of_another_type_is_unknown() -> None:
    with pytest.raises(InvalidRequest):
        q("Patient", ("value-quantity", "5"))


def test_lenient_handling_ignores_unknown_parameters_and_leaves_them_out_of_used() -> None:
    query = q("Patient", ("nonsense", "1"), ("family", "x"), lenient=True)
    assert query.ignored == ("nonsense",)
    assert query.used == (("family", "x"),)
    assert [c.param.code for c in query.clauses] == ["family"]


@pytest.mark.parametrize(
    ("name", "raw"),
    [
        ("name:text", "x"),
        ("name:not", "x"),
        ("code:contains", "x"),
        ("code:text", "x"),
        ("code:in", "http://vs"),
        ("code:below", "x"),
        ("identifier:of-type", "x|y|z"),
        ("birthdate:exact", "2024"),
        ("general-practitioner:identifier", "x|y"),
        ("family:below", "x"),
    ],
)
def test_unsupported_modifier_is_an_error(name: str, raw: str) -> None:
    rtype = "Observation" if name.startswith("code") else "Patient"
    with pytest.raises(InvalidRequest):
        q(rtype, (name, raw))


# --- result parameters (search.html#return) -------------------------------------------------


def test_count_defaults_and_is_capped() -> None:
    assert q("Patient").count == DEFAULT_COUNT
    assert q("Patient", ("_count", "5")).count == 5
    assert q("Patient", ("_count", "999999")).count == MAX_COUNT


@pytest.mark.parametrize("raw", ["-1", "abc", "1.5", ""])
def test_invalid_count_is_an_error(raw: str) -> None:
    with pytest.raises(InvalidRequest):
        q("Patient", ("_count", raw))


def test_sort_keys_keep_order_and_direction() -> None:
    query = q("Patient", ("_sort", "family,-birthdate,_lastUpdated,-_id"))
    assert [(k.code, k.descending) for k in query.sort] == [
        ("family", False),
        ("birthdate", True),
        ("_lastUpdated", False),
        ("_id", True),
    ]


@pytest.mark.parametrize("raw", ["nonsense", "-nonsense", "general-practitioner"])
def test_sort_by_unknown_or_reference_parameter_is_an_error(raw: str) -> None:
    with pytest.raises(InvalidRequest):
        q("Patient", ("_sort", raw))


def test_include_and_revinclude_are_parsed() -> None:
    query = q(
        "Observation",
        ("_include", "Observation:patient"),
        ("_include", "Observation:subject:Patient"),
    )
    assert [(i.source_type, i.param.code, i.target_type) for i in query.includes] == [
        ("Observation", "patient", None),
        ("Observation", "subject", "Patient"),
    ]
    query = q("Patient", ("_revinclude", "Observation:patient"))
    assert [(i.source_type, i.param.code) for i in query.revincludes] == [
        ("Observation", "patient")
    ]


@pytest.mark.parametrize(
    ("name", "raw"),
    [
        ("_include", "Patient:general-practitioner"),  # not the searched type
        ("_include", "Observation:code"),  # not a reference parameter
        ("_include", "Observation"),
        ("_include", "Observation:subject:Nonsense"),
        ("_revinclude", "Nonsense:patient"),
    ],
)
def test_invalid_include_is_an_error(name: str, raw: str) -> None:
    with pytest.raises(InvalidRequest):
        q("Observation", (name, raw))


def test_summary_elements_and_total_options() -> None:
    assert q("Patient", ("_summary", "count")).summary == "count"
    assert q("Patient", ("_summary", "false")).summary is None
    assert q("Patient", ("_elements", "name, birthDate")).elements == ("name", "birthDate")
    assert q("Patient", ("_total", "none")).total == "none"
    with pytest.raises(InvalidRequest):
        q("Patient", ("_total", "some"))


def test_cursor_is_not_part_of_the_used_parameters() -> None:
    query = q("Patient", ("family", "x"), ("_count", "2"), ("_cursor", "abc"))
    assert query.cursor == "abc"
    assert query.used == (("family", "x"), ("_count", "2"))


# --- paging cursors -------------------------------------------------------------------------


def test_cursor_round_trips() -> None:
    cursor = Cursor(42, ("Smith", 7), 10)
    assert Cursor.decode(cursor.encode()) == cursor


def test_cursor_with_64_bit_edges_and_null_sort_values_round_trips() -> None:
    cursor = Cursor(2**63 - 1, (None, -(2**63), 2.5, True), 0)
    assert Cursor.decode(cursor.encode()) == cursor


@pytest.mark.parametrize(
    "text",
    [
        "not-a-cursor",
        "%%%",
        base64.urlsafe_b64encode(b"[1, 2]").decode(),
        base64.urlsafe_b64encode(orjson.dumps({"s": "x", "a": None, "o": 0})).decode(),
        base64.urlsafe_b64encode(orjson.dumps({"a": None})).decode(),
        # forged numbers a database column cannot hold (issue 13, finding 8): 400, never 500
        base64.urlsafe_b64encode(orjson.dumps({"s": 2**63, "a": None, "o": 0})).decode(),
        base64.urlsafe_b64encode(orjson.dumps({"s": 1, "a": None, "o": 2**63})).decode(),
        base64.urlsafe_b64encode(orjson.dumps({"s": -1, "a": None, "o": 0})).decode(),
        base64.urlsafe_b64encode(orjson.dumps({"s": 1, "a": [2**63], "o": 0})).decode(),
        base64.urlsafe_b64encode(orjson.dumps({"s": 1, "a": [[1], {"x": 1}], "o": 0})).decode(),
        base64.urlsafe_b64encode(orjson.dumps({"s": 1, "a": "Smith", "o": 0})).decode(),
    ],
)
def test_malformed_cursor_is_an_error(text: str) -> None:
    with pytest.raises(InvalidRequest):
        Cursor.decode(text)


# --- index extraction (search.html#ptypes) --------------------------------------------------


def test_normalize_folds_case_accents_and_spaces() -> None:
    assert normalize("  José  MARÍA ") == "jose maria"
    assert normalize("São Paulo") == "sao paulo"
    assert normalize("Ærø") == normalize("ærø")


def test_tokens_of_each_datatype() -> None:
    concept = {
        "coding": [
            {"system": "http://loinc.org", "code": "8867-4"},
            {"code": "hr"},
        ],
        "text": "Heart rate",
    }
    assert list(tokens(concept)) == [("http://loinc.org", "8867-4"), (None, "hr")]
    assert list(tokens({"system": "urn:mrn", "value": "123"})) == [("urn:mrn", "123")]
    # a ContactPoint token is its value; ContactPoint.system is not a token system
    assert list(tokens({"system": "phone", "value": "555-1234", "use": "home"})) == [
        (None, "555-1234")
    ]
    assert list(tokens(True)) == [(None, "true")]
    assert list(tokens(False)) == [(None, "false")]
    assert list(tokens("final")) == [(None, "final")]


def test_strings_of_a_human_name_and_an_address() -> None:
    name = {"family": "García", "given": ["José", "Luis"], "prefix": ["Dr"]}
    assert sorted(strings(name)) == sorted(["García", "José", "Luis", "Dr"])
    address = {"line": ["1 Main St"], "city": "São Paulo", "postalCode": "01000", "use": "home"}
    assert sorted(strings(address)) == sorted(["1 Main St", "São Paulo", "01000"])


def test_period_range_is_open_where_a_bound_is_missing() -> None:
    assert date_range({"start": "2024-03-01"}) == (ms("2024-03-01T00:00:00Z"), MAX_MS)
    assert date_range({"end": "2024-03-01"}) == (MIN_MS, ms("2024-03-01T23:59:59.999Z"))
    assert date_range({"start": "2024-02", "end": "2024-03-05"}) == (
        ms("2024-02-01T00:00:00Z"),
        ms("2024-03-05T23:59:59.999Z"),
    )


def test_timing_range_spans_its_events() -> None:
    timing = {"event": ["2024-03-05", "2024-01-02T10:00:00Z"]}
    assert date_range(timing) == (ms("2024-01-02T10:00:00Z"), ms("2024-03-05T23:59:59.999Z"))


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ({"reference": "Patient/1"}, ("Patient", "1")),
        ({"reference": "Patient/1/_history/3"}, ("Patient", "1")),
        ({"reference": "http://other.org/fhir/Patient/1"}, ("", "http://other.org/fhir/Patient/1")),
        ({"reference": "#contained"}, None),
        ({"display": "no reference"}, None),
    ],
)
def test_reference_target(value: dict[str, str], expected: tuple[str, str] | None) -> None:
    assert reference(value) == expected


def test_quantity_uses_code_or_falls_back_to_unit() -> None:
    assert quantity({"value": 5.4, "system": "http://unitsofmeasure.org", "code": "mg"}) == (
        5.4,
        "http://unitsofmeasure.org",
        "mg",
    )
    assert quantity({"value": 5, "unit": "mg"}) == (5.0, None, "mg")
    assert quantity({"unit": "mg"}) is None


def test_quantity_is_indexed_under_its_code_and_its_stated_unit() -> None:
    rows = extract(
        {
            "resourceType": "Observation",
            "status": "final",
            "code": {"text": "x"},
            "valueQuantity": {"value": 5.4, "unit": "milligram", "system": UCUM, "code": "mg"},
        }
    )
    assert [r for r in rows.quantity if r[0] == "Observation.value-quantity"] == [
        ("Observation.value-quantity", 5.4, UCUM, "mg"),
        ("Observation.value-quantity", 5.4, None, "milligram"),
    ]


def test_observation_index_rows() -> None:
    rows = extract(
        {
            "resourceType": "Observation",
            "id": "o1",
            "meta": {"lastUpdated": "2024-03-15T10:00:00.000Z"},
            "status": "final",
            "code": {"coding": [{"system": "http://loinc.org", "code": "8867-4"}]},
            "subject": {"reference": "Patient/p1"},
            "effectiveDateTime": "2024-03-15",
            "valueQuantity": {"value": 72, "system": "http://unitsofmeasure.org", "code": "/min"},
        }
    )
    assert ("Observation.code", "http://loinc.org", "8867-4") in rows.token
    assert ("Observation.status", None, "final") in rows.token
    assert ("Observation.subject", "Patient", "p1") in rows.reference
    assert ("Observation.patient", "Patient", "p1") in rows.reference
    assert (
        "Observation.date",
        ms("2024-03-15T00:00:00Z"),
        ms("2024-03-15T23:59:59.999Z"),
    ) in rows.date
    assert ("Observation._lastUpdated", ms("2024-03-15T10:00:00Z"), ms("2024-03-15T10:00:00Z")) in (
        rows.date
    )
    assert ("Observation.value-quantity", 72.0, "http://unitsofmeasure.org", "/min") in (
        rows.quantity
    )


def test_patient_parameter_only_indexes_references_to_patients() -> None:
    rows = extract(
        {
            "resourceType": "Observation",
            "status": "final",
            "code": {"text": "x"},
            "subject": {"reference": "Group/g1"},
        }
    )
    assert ("Observation.subject", "Group", "g1") in rows.reference
    assert not [r for r in rows.reference if r[0] == "Observation.patient"]


def test_patient_index_rows_hold_accent_folded_and_exact_forms() -> None:
    rows = extract(
        {
            "resourceType": "Patient",
            "active": True,
            "name": [{"family": "García", "given": ["José"]}],
            "address": [{"city": "São Paulo"}],
            "identifier": [{"system": "urn:mrn", "value": "123"}],
        }
    )
    assert ("Patient.family", "garcia", "García") in rows.string
    assert ("Patient.name", "jose", "José") in rows.string
    assert ("Patient.address-city", "sao paulo", "São Paulo") in rows.string
    assert ("Patient.active", None, "true") in rows.token
    assert ("Patient.identifier", "urn:mrn", "123") in rows.token


# --- which parameters each type has ---------------------------------------------------------


@pytest.mark.parametrize("rtype", sorted(RESOURCE_TYPES - NOT_STORED))
def test_every_type_has_id_and_last_updated(rtype: str) -> None:
    params = params_for(rtype)
    assert params["_id"].kind == "token"
    assert params["_lastUpdated"].kind == "date"


@pytest.mark.parametrize(
    ("rtype", "path"),
    [
        ("RiskAssessment", "subject"),
        ("Specimen", "subject"),
        ("NutritionOrder", "patient"),
        ("Observation", "subject"),
        ("Encounter", "subject"),
    ],
)
def test_types_with_a_subject_or_patient_element_have_a_patient_parameter(
    rtype: str, path: str
) -> None:
    param = params_for(rtype)["patient"]
    assert param.kind == "reference"
    assert [p.segments for p in param.paths] == [(path,)]
