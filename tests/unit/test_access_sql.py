"""The SQL an access filter adds to a search (bedside.store.sqlsearch), and which clause drives."""

from __future__ import annotations

import pytest

from bedside.auth.caller import Caller
from bedside.auth.scopes import ScopeSet
from bedside.fhir.compartment import patient_compartment
from bedside.fhir.search.query import parse_search
from bedside.fhir.search.visibility import NOTHING, Alternative, Visibility
from bedside.rest.access import Access
from bedside.store import sqlsearch

CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
DRIVES = "r.rid IN (SELECT x.rid FROM idx_reference x WHERE x.param IN"
PROBES = "EXISTS (SELECT 1 FROM idx_reference x WHERE x.rid = r.rid AND x.param IN"


def where(rtype: str, visible: Visibility | None, *pairs: tuple[str, str]) -> sqlsearch.Sql:
    sql = sqlsearch.where(parse_search(rtype, list(pairs)), 100, visible)
    assert sql.text.count("?") == len(sql.args)
    return sql


def app(scope: str = "patient/*.rs", rtype: str = "Observation") -> Visibility | None:
    return Access(Caller("app", ScopeSet.parse(scope), patient="p1")).rows(rtype, "search")


def test_no_restriction_adds_nothing() -> None:
    plain = sqlsearch.where(parse_search("Observation", [("code", "x")]), 100, None)
    assert "idx_reference" not in plain.text


def test_nothing_visible_matches_no_row() -> None:
    assert "1 = 0" in where("Observation", NOTHING).text


def test_the_compartment_drives_a_search_without_a_reference_clause() -> None:
    sql = where("Observation", app(), ("code", "http://loinc.org|718-7"))
    assert DRIVES in sql.text
    assert "EXISTS (SELECT 1 FROM idx_token x" in sql.text  # the code clause no longer drives
    assert sql.args[3:7] == ["Observation.subject", "Observation.performer", "p1", "Patient"]


def test_a_reference_clause_keeps_driving_and_the_compartment_is_probed() -> None:
    sql = where("Observation", app(), ("patient", "Patient/p1"))
    assert PROBES in sql.text
    assert "r.rid IN (SELECT rid FROM idx_reference WHERE param = ?" in sql.text


def test_a_patient_is_found_by_its_id_or_by_its_links() -> None:
    sql = where("Patient", app(rtype="Patient"))
    assert "SELECT rid FROM resources WHERE type = ? AND id IN (?) UNION" in sql.text
    probe = sqlsearch.visibility(Visibility((Alternative(patient_compartment("Patient", "p1")),)))
    assert probe.text.startswith("(r.id IN (?) OR EXISTS")


def test_granular_alternatives_are_ored_inside_the_shared_compartment() -> None:
    scope = (
        f"patient/Observation.rs?category={CATEGORY}|laboratory "
        f"patient/Observation.rs?category={CATEGORY}|vital-signs"
    )
    sql = where("Observation", app(scope))
    assert sql.text.count(DRIVES) == 1
    assert sql.text.count("EXISTS (SELECT 1 FROM idx_token x") == 2
    assert ") OR (" in sql.text


@pytest.mark.parametrize("drive", [False, True])
def test_different_compartments_drive_by_their_union_and_each_is_probed(drive: bool) -> None:
    visible = Visibility(
        (
            Alternative(patient_compartment("Observation", "p1")),
            Alternative(patient_compartment("Observation", "p2")),
        )
    )
    sql = sqlsearch.visibility(visible, drive=drive)
    union = "x.target IN (?, ?)"
    assert sql.text.count(PROBES) == (2 if drive else 3)
    assert (DRIVES in sql.text) == drive and union in sql.text
    assert sql.args.count("p1") == 2 and sql.args.count("p2") == 2
    assert sql.text.count("?") == len(sql.args)
