"""Type-level ``Patient/$everything``: the record of every patient in the caller's view, paged,
confined like a search (docs/api.md), on SQLite and PostgreSQL.

The doctor of ``_policy_world`` is related to p-team, p-ward and p-assigned, not to p-stranger
or p-shared, and may not see p-team's sensitive (V) Observation.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl, urlsplit

from bedside.rest import Repository
from bedside.rest.capability import capability_statement
from bedside.rest.paging import Cursor
from bedside.store.base import Store
from tests.integration._policy_world import DOC, Hospital, build, get, status

DOCTOR_PATIENTS = {"p-team", "p-ward", "p-assigned"}


def pages(repo: Repository, *query: tuple[str, str]) -> list[dict[str, Any]]:
    """Every page of ``Patient/$everything``, following the ``next`` links."""
    out = []
    resp = get(repo, "Patient/$everything", *query)
    while True:
        assert resp.status == 200 and resp.resource is not None, resp.resource
        out.append(resp.resource)
        nxt = [link["url"] for link in resp.resource["link"] if link["relation"] == "next"]
        if not nxt:
            return out
        resp = get(repo, "Patient/$everything", *parse_qsl(urlsplit(nxt[0]).query))


def keys(bundles: list[dict[str, Any]]) -> list[str]:
    return [
        f"{e['resource']['resourceType']}/{e['resource']['id']}"
        for b in bundles
        for e in b.get("entry", [])
    ]


def instance_level(repo: Repository, pid: str) -> list[str]:
    return keys([get(repo, f"Patient/{pid}/$everything", ("_count", "1000")).resource or {}])


def test_type_level_is_each_visible_patients_record_and_nothing_else(store: Store) -> None:
    hospital = build(store)
    doc = hospital.doctor()
    got = keys(pages(doc, ("_count", "1000")))
    patients = {k.split("/")[1] for k in got if k.startswith("Patient/")}
    assert patients == DOCTOR_PATIENTS
    expected = [k for pid in sorted(DOCTOR_PATIENTS) for k in instance_level(doc, pid)]
    assert sorted(got) == sorted(expected)  # each patient's record, as its own $everything
    assert "Observation/obs-p-team-secret" not in got
    assert not any("p-stranger" in k or "p-shared" in k for k in got)
    operator = keys(pages(hospital.operator(), ("_count", "1000")))
    assert {"Patient/p-stranger", "Observation/obs-p-team-secret"} <= set(operator)


def test_small_pages_neither_repeat_nor_skip(store: Store) -> None:
    hospital = build(store)
    doc = hospital.doctor()
    whole = keys(pages(doc, ("_count", "1000")))
    for size in ("1", "2", "3"):
        paged = pages(doc, ("_count", size))
        assert all(len(b.get("entry", [])) <= int(size) for b in paged)
        assert keys(paged) == whole, size
    assert len(pages(doc, ("_count", "1"))) >= len(whole)


def test_type_filter_and_since_apply_to_every_patient(store: Store) -> None:
    hospital = build(store)
    doc = hospital.doctor()
    got = keys(pages(doc, ("_type", "Patient"), ("_count", "1000")))
    assert sorted(got) == sorted(f"Patient/{p}" for p in DOCTOR_PATIENTS)
    assert keys(pages(doc, ("_since", "2999-01-01"))) == []


def test_without_patient_search_the_type_level_is_refused(store: Store) -> None:
    hospital = build(store)
    observations_only = hospital.as_user("doctor", DOC, scope="user/Observation.rs")
    assert status(observations_only, "Patient/$everything") == 403


def test_a_bad_cursor_is_a_plain_400(store: Store) -> None:
    hospital: Hospital = build(store)
    doc = hospital.doctor()
    for after in ((0, 1), (1, 999, 1), (1, -1, 1), (1, 0, "x"), (True, 0, 1)):
        cursor = Cursor(1, after, 0).encode()  # type: ignore[arg-type]
        assert status(doc, "Patient/$everything", ("_cursor", cursor)) == 400, after


def test_the_capability_statement_lists_everything_once_on_patient() -> None:
    cap = capability_statement("http://bedside.test/fhir", "2026-12-03")
    patient = next(r for r in cap["rest"][0]["resource"] if r["type"] == "Patient")
    names = [op["name"] for op in patient["operation"]]
    assert names.count("everything") == 1  # served at type and instance level, one definition
