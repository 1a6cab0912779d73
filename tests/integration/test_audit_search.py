"""AuditEvent read and search from the audit tables, on real SQLite and PostgreSQL: every
parameter, paging newest first, and a patient's view of their own access log."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest

from bedside.audit.chain import AuditLog
from bedside.audit.entry import MINOR_FAILURE, SUCCESS, AuditEntry
from bedside.audit.search import AuditSearch
from bedside.errors import InvalidRequest
from bedside.store import Store

BASE = "http://bedside.test/fhir"
DAY = 86_400_000
HOUR = 3_600_000
T0 = 1_767_225_600_000  # 2026-01-01T00:00:00Z

EVENTS = [
    AuditEntry(  # 1
        "read", "R", SUCCESS, T0 + HOUR, user_ref="Practitioner/9", subject="u-9",
        client_id="ward-app", device="tablet-1", patients=("p1",),
        entities=("Observation/1/_history/1",), purpose=("TREAT",),
    ),
    AuditEntry(  # 2
        "search-type", "E", SUCCESS, T0 + 2 * HOUR, user_ref="Practitioner/9", subject="u-9",
        client_id="ward-app", patients=("p1", "p2"), resource_type="Patient",
        query="name=Smith", purpose=("TREAT",),
    ),
    AuditEntry(  # 3
        "read", "R", MINOR_FAILURE, T0 + DAY + HOUR, user_ref="Practitioner/5", subject="u-5",
        client_id="ward-app", patients=("p2",), description="denied: outside the care team",
    ),
    AuditEntry(  # 4
        "break-glass", "E", SUCCESS, T0 + DAY + 2 * HOUR, user_ref="Practitioner/5",
        subject="u-5", client_id="ward-app", patients=("p1",), purpose=("BTG",),
    ),
    AuditEntry("login", "E", SUCCESS, T0 + 2 * DAY, subject="u-5", client_id="ward-app"),  # 5
    AuditEntry(  # 6
        "read", "R", SUCCESS, T0 + 2 * DAY + HOUR, subject="lab-feed", client_id="lab-feed",
        device="tablet-2", patients=("p3",),
    ),
]  # fmt: skip


@pytest.fixture
def search(store: Store) -> Iterator[AuditSearch]:
    log = AuditLog(store, server=BASE)
    log.submit(EVENTS)
    log.close()
    with store.records() as db:
        yield AuditSearch(db, BASE)


def ids(bundle: dict[str, Any]) -> list[int]:
    return [int(e["resource"]["id"]) for e in bundle["entry"]]


def test_search_without_parameters_lists_everything_newest_first(search: AuditSearch) -> None:
    bundle = search.search([])
    assert bundle["resourceType"] == "Bundle" and bundle["type"] == "searchset"
    assert bundle["total"] == 6
    assert ids(bundle) == [6, 5, 4, 3, 2, 1]
    first = bundle["entry"][0]
    assert first["fullUrl"] == f"{BASE}/AuditEvent/6"
    assert first["search"] == {"mode": "match"}
    assert bundle["link"] == [{"relation": "self", "url": f"{BASE}/AuditEvent"}]


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ([("patient", "Patient/p1")], [4, 2, 1]),
        ([("patient", "p2")], [3, 2]),
        ([("patient", f"{BASE}/Patient/p3")], [6]),
        ([("patient", "p2,p3")], [6, 3, 2]),
        ([("patient", "p1"), ("patient", "p2")], [2]),  # repeated: AND
        ([("agent", "Practitioner/9")], [2, 1]),
        ([("agent", f"{BASE}/Practitioner/5")], [4, 3]),
        ([("agent", "u-5")], [5, 4, 3]),
        ([("agent", "lab-feed")], [6]),
        ([("device", "tablet-1")], [1]),
        ([("device", "tablet-1,tablet-2")], [6, 1]),
        ([("date", "2026-01-02")], [4, 3]),
        ([("date", "eq2026-01-01")], [2, 1]),
        ([("date", "ge2026-01-02")], [6, 5, 4, 3]),
        ([("date", "gt2026-01-02")], [6, 5]),
        ([("date", "lt2026-01-02")], [2, 1]),
        ([("date", "le2026-01-02")], [4, 3, 2, 1]),
        ([("date", "ge2026-01-01T01:30:00Z"), ("date", "lt2026-01-02T01:30:00Z")], [3, 2]),
        ([("outcome", "4")], [3]),
        ([("subtype", "read")], [6, 3, 1]),
        ([("subtype", "http://hl7.org/fhir/restful-interaction|search-type")], [2]),
        ([("subtype", "login")], [5]),
        ([("subtype", "break-glass")], [4]),
        ([("action", "E")], [5, 4, 2]),
        ([("purpose", "BTG")], [4]),
        ([("purpose", "TREAT")], [2, 1]),
        ([("patient", "p1"), ("agent", "Practitioner/5")], [4]),
        ([("patient", "nobody")], []),
    ],
)
def test_search_parameters(
    search: AuditSearch, params: list[tuple[str, str]], expected: list[int]
) -> None:
    bundle = search.search(params)
    assert ids(bundle) == expected
    assert bundle["total"] == len(expected)


def test_paging_walks_every_match_newest_first(search: AuditSearch) -> None:
    seen: list[int] = []
    params: list[tuple[str, str]] = [("_count", "2")]
    pages = 0
    while True:
        bundle = search.search(params)
        assert bundle["total"] == 6
        seen.extend(ids(bundle))
        pages += 1
        nexts = [link["url"] for link in bundle["link"] if link["relation"] == "next"]
        if not nexts:
            break
        url = urlsplit(nexts[0])
        assert url.path.endswith("/AuditEvent")
        params = parse_qsl(url.query)
    assert seen == [6, 5, 4, 3, 2, 1]
    assert pages == 3


def test_paging_keeps_the_filters(search: AuditSearch) -> None:
    first = search.search([("patient", "p1"), ("_count", "1")])
    assert ids(first) == [4]
    (nxt,) = [link["url"] for link in first["link"] if link["relation"] == "next"]
    second = search.search(parse_qsl(urlsplit(nxt).query))
    assert ids(second) == [2]


@pytest.mark.parametrize(
    "params",
    [
        [("name", "x")],
        [("_sort", "date")],
        [("date", "sa2026-01-01")],
        [("date", "yesterday")],
        [("_count", "many")],
        [("_cursor", "abc")],
        [("purpose", "BTG%")],
        [("patient", "")],
    ],
)
def test_bad_parameters_are_refused_clearly(
    search: AuditSearch, params: list[tuple[str, str]]
) -> None:
    with pytest.raises(InvalidRequest) as err:
        search.search(params)
    assert params[0][0] in str(err.value)


def test_count_is_capped_at_1000(search: AuditSearch) -> None:
    assert len(search.search([("_count", "5000")])["entry"]) == 6


def test_read_returns_the_event_or_none(search: AuditSearch) -> None:
    event = search.read("2")
    assert event is not None and event["id"] == "2"
    assert search.read("7") is None
    assert search.read("x") is None
    assert search.read("-1") is None


def test_a_patient_sees_only_events_about_them(search: AuditSearch) -> None:
    bundle = search.search([], patient_only="p2")
    assert ids(bundle) == [3, 2]
    assert bundle["total"] == 2
    assert ids(search.search([("patient", "Patient/p2")], patient_only="p2")) == [3, 2]
    assert ids(search.search([("agent", "Practitioner/9")], patient_only="p2")) == [2]


def test_a_patient_asking_about_someone_else_gets_an_empty_bundle(search: AuditSearch) -> None:
    for value in ("p1", "Patient/p1", "p2,p1"):
        bundle = search.search([("patient", value)], patient_only="p2")
        assert bundle["total"] == 0 and bundle["entry"] == []
    empty_for_nobody = search.search([("patient", "nobody")], patient_only="p2")
    assert empty_for_nobody["total"] == 0


def test_a_patients_view_hides_other_patients_and_the_query(search: AuditSearch) -> None:
    event = search.read("2", patient_only="p2")
    assert event is not None
    refs = [e.get("what", {}).get("reference") for e in event["entity"]]
    assert refs == ["Patient/p2"]
    assert search.read("1", patient_only="p2") is None  # about p1 only
    full = search.read("2")
    assert full is not None
    (query,) = [e for e in full["entity"] if e["role"]["code"] == "24"]
    assert base64.b64decode(query["query"]) == b"name=Smith"


def test_a_patients_view_keeps_only_the_entities_of_their_record(store: Store) -> None:
    """A doctor's search that returned several patients' data: each patient sees their own
    resources only; reference data, unresolvable resources and other Patients are removed."""
    entities = (
        "Observation/1/_history/1",  # p1's
        "Observation/2/_history/1",  # p2's
        "Observation/3",  # p2's (a refusal names it as requested: the current version)
        "Observation/4/_history/2",  # not stored: whose it is is unknown
        "Patient/p1/_history/1",
        "Patient/p2/_history/3",
        "Patient/p3/_history/1",  # links to p2: still not p2's own Patient
        "Practitioner/9/_history/1",  # reference data: nobody's record
        "AuditEvent/1",  # an AuditEvent about p1
        "Device/5/_history/1",  # outside the compartment
    )
    compartments = {
        ("Observation", "1", 1): ("p1",),
        ("Observation", "2", 1): ("p2",),
        ("Observation", "3", None): ("p2",),
        ("Patient", "p1", 1): ("p1",),
        ("Patient", "p2", 3): ("p2",),
        ("Patient", "p3", 1): ("p2", "p3"),
        ("Practitioner", "9", 1): (),
        ("Device", "5", 1): ("p2",),
    }
    log = AuditLog(store, server=BASE)
    log.submit(
        [
            EVENTS[0],
            AuditEntry(
                "search-type", "E", SUCCESS, T0 + DAY, user_ref="Practitioner/9",
                patients=("p1", "p2", "p3"), entities=entities, resource_type="Observation",
                query="code=x",
            ),
        ]
    )  # fmt: skip
    log.close()
    with store.records() as db:
        search = AuditSearch(db, BASE, lambda t, i, v: compartments.get((t, i, v)))

        def shown(patient: str | None) -> list[str]:
            event = search.read("2", patient_only=patient)
            assert event is not None
            return [e.get("what", {}).get("reference", "query") for e in event["entity"]]

        assert shown("p2") == ["Patient/p2", "Observation/2/_history/1", "Observation/3",
                               "Patient/p2/_history/3"]  # fmt: skip
        assert shown("p1") == ["Patient/p1", "Observation/1/_history/1", "Patient/p1/_history/1",
                               "AuditEvent/1"]  # fmt: skip
        assert shown(None) == ["Patient/p1", "Patient/p2", "Patient/p3", *entities, "query"]
        bundle = search.search([], patient_only="p2")
        (event,) = [e["resource"] for e in bundle["entry"]]
        assert len(event["entity"]) == 4
        without = AuditSearch(db, BASE)  # no store to ask: only the patient's own Patient
        found = without.read("2", patient_only="p1")
        assert found is not None
        assert [e["what"]["reference"] for e in found["entity"]] == [
            "Patient/p1",
            "Patient/p1/_history/1",
            "AuditEvent/1",
        ]
