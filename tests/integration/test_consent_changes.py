"""Consent revocation and expiry in the change feed, on SQLite and PostgreSQL
(bedside.consent.changes), and the patient's plain-words list (bedside.web.consent_api)."""

from __future__ import annotations

import asyncio
import copy
import json
import threading
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from bedside.auth.caller import Caller
from bedside.auth.scopes import ScopeSet
from bedside.consent.changes import changes_since, note_consent_change, sweep
from bedside.errors import Unauthorized
from bedside.rest import FhirRequest, Repository
from bedside.store import Store, open_store

TYPES = "http://hl7.org/fhir/resource-types"
ACT_CODE = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
STAMP = "2026-06-01T12:00:00.000Z"


def ts(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()


def consent_body(
    kind: str = "permit",
    *,
    status: str = "active",
    patient: str = "p1",
    actors: tuple[str, ...] = ("Practitioner/9",),
    **provision: Any,
) -> dict[str, Any]:
    return {
        "resourceType": "Consent",
        "status": status,
        "scope": {
            "coding": [
                {
                    "system": "http://terminology.hl7.org/CodeSystem/consentscope",
                    "code": "patient-privacy",
                }
            ]
        },
        "category": [{"coding": [{"system": "http://loinc.org", "code": "59284-0"}]}],
        "patient": {"reference": f"Patient/{patient}"},
        "policyRule": {"coding": [{"system": ACT_CODE, "code": "OPTIN"}]},
        "provision": {
            "type": kind,
            **(
                {
                    "actor": [
                        {"role": {"text": "recipient"}, "reference": {"reference": r}}
                        for r in actors
                    ]
                }
                if actors
                else {}
            ),
            **provision,
        },
    }


def create(repo: Repository, body: dict[str, Any]) -> dict[str, Any]:
    resp = repo.handle(FhirRequest("POST", "Consent", body=body))
    assert resp.status == 201 and resp.resource is not None
    return resp.resource


def put(repo: Repository, resource: dict[str, Any]) -> dict[str, Any]:
    path = f"{resource['resourceType']}/{resource['id']}"
    resp = repo.handle(FhirRequest("PUT", path, body=resource))
    assert resp.resource is not None
    return resp.resource


def withdrawn(old: dict[str, Any], status: str = "inactive") -> dict[str, Any]:
    new = copy.deepcopy(old)
    new["status"] = status
    new["meta"]["versionId"] = str(int(old["meta"]["versionId"]) + 1)
    return new


def feed_row(store: Store, seq: int) -> tuple[Any, ...] | None:
    with store.records() as db:
        return db.one("SELECT type, id, version, op FROM change_feed WHERE seq = ?", (seq,))


def access_rows(store: Store) -> list[tuple[Any, ...]]:
    with store.records() as db:
        return db.rows(
            "SELECT seq, kind, patient, actors, types, labels, source, recorded_at"
            " FROM access_changes ORDER BY seq"
        )


# --- revocation ----------------------------------------------------------------------------------


def test_withdrawing_an_active_consent_writes_a_revocation_sharing_the_feed_seq(
    store: Store, repo: Repository
) -> None:
    old = create(
        repo,
        consent_body(
            **{"class": [{"system": TYPES, "code": "Observation"}]},
            securityLabel=[{"system": ACT_CODE, "code": "HIV"}],
        ),
    )
    with store.write() as session:
        seqs = note_consent_change(session, old, withdrawn(old), STAMP)
    (seq,) = seqs
    assert feed_row(store, seq) == ("Consent", old["id"], 2, "access-revoked")
    assert access_rows(store) == [
        (
            seq,
            "consent-revoked",
            "p1",
            '["Practitioner/9"]',
            '["Observation"]',
            f'["{ACT_CODE}|HIV"]',
            f"Consent/{old['id']}",
            STAMP,
        )
    ]


def test_marking_an_active_consent_entered_in_error_is_its_own_kind(
    store: Store, repo: Repository
) -> None:
    old = create(repo, consent_body())
    with store.write() as session:
        (seq,) = note_consent_change(session, old, withdrawn(old, "entered-in-error"), STAMP)
    assert [(r[0], r[1], r[4], r[5]) for r in access_rows(store)] == [
        (seq, "consent-entered-in-error", "[]", "[]")
    ]


def test_changes_that_close_no_access_write_nothing(store: Store, repo: Repository) -> None:
    draft = create(repo, consent_body(status="draft"))
    deny = create(repo, consent_body("deny"))
    with store.write() as session:
        assert note_consent_change(session, None, draft, STAMP) == []
        assert note_consent_change(session, draft, withdrawn(draft, "active"), STAMP) == []
        assert (
            note_consent_change(session, draft, withdrawn(draft, "entered-in-error"), STAMP) == []
        )
        assert note_consent_change(session, deny, withdrawn(deny), STAMP) == []
    assert access_rows(store) == []


def test_withdrawing_a_deny_revokes_each_of_its_exceptions(store: Store, repo: Repository) -> None:
    old = create(
        repo,
        consent_body(
            "deny",
            actors=(),
            provision=[
                {
                    "type": "permit",
                    "actor": [{"role": {"text": "r"}, "reference": {"reference": "CareTeam/t1"}}],
                    "class": [{"system": TYPES, "code": "Immunization"}],
                }
            ],
        ),
    )
    with store.write() as session:
        assert len(note_consent_change(session, old, withdrawn(old), STAMP)) == 1
    (row,) = access_rows(store)
    assert (row[3], row[4]) == ('["CareTeam/t1"]', '["Immunization"]')


def test_withdrawing_through_the_repository_writes_the_revocation(
    store: Store, repo: Repository
) -> None:
    """The lead's wiring (bedside.rest.writes) calls note_consent_change in the write."""
    old = create(repo, consent_body())
    put(repo, {**old, "status": "inactive"})
    (row,) = access_rows(store)
    assert row[1] == "consent-revoked"
    assert feed_row(store, row[0]) == ("Consent", old["id"], 2, "access-revoked")


# --- expiry --------------------------------------------------------------------------------------


def test_sweep_notes_a_consents_end_once_and_only_after_it(store: Store, repo: Repository) -> None:
    c = create(repo, consent_body(period={"start": "2026-01-01", "end": "2026-03-01"}))
    create(repo, consent_body(period={"start": "2026-01-01"}))  # open-ended: never expires
    assert sweep(store, ts("2026-03-01T23:59:59")) == 0
    assert sweep(store, ts("2026-03-02T00:00:00")) == 1
    assert sweep(store, ts("2026-03-02T00:00:00")) == 0
    assert sweep(store, ts("2030-01-01T00:00:00")) == 0
    (row,) = access_rows(store)
    assert row[1:3] == ("consent-expired", "p1")
    assert row[6:] == (f"Consent/{c['id']}", "2026-03-02T00:00:00.000Z")
    assert feed_row(store, row[0]) == ("Consent", c["id"], 1, "access-expired")
    with store.records() as db:
        assert db.rows("SELECT consent_id, version, seq FROM consent_expiries") == [
            (c["id"], 1, row[0])
        ]


def test_sweep_ignores_consents_that_are_not_active(store: Store, repo: Repository) -> None:
    create(repo, consent_body(status="draft", period={"end": "2026-03-01"}))
    c = create(repo, consent_body(period={"end": "2026-03-01"}))
    put(repo, {**c, "status": "inactive"})  # revoked (one revocation entry), not expired
    assert sweep(store, ts("2027-01-01T00:00:00")) == 0
    assert [r[1] for r in access_rows(store)] == ["consent-revoked"]


def test_an_expired_deny_is_noted_without_an_entry(store: Store, repo: Repository) -> None:
    create(repo, consent_body("deny", period={"end": "2026-03-01"}))
    assert sweep(store, ts("2027-01-01T00:00:00")) == 0
    with store.records() as db:
        assert db.rows("SELECT seq FROM consent_expiries") == [(0,)]


def test_withdrawing_after_expiry_was_noted_writes_nothing_more(
    store: Store, repo: Repository
) -> None:
    old = create(repo, consent_body(period={"end": "2026-03-01"}))
    assert sweep(store, ts("2026-04-01T00:00:00")) == 1
    with store.write() as session:
        assert note_consent_change(session, old, withdrawn(old), STAMP) == []


def glass(store: Store, gid: str, expires: str, patient: str = "p1") -> None:
    with store.records(write=True) as db:
        db.run(
            "INSERT INTO break_glass (id, user_id, user_ref, patient, reason, started_at,"
            " expires_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (gid, "u9", "Practitioner/9", patient, "unconscious", 0, int(ts(expires))),
        )


def test_sweep_notes_break_glass_expiry_once(store: Store) -> None:
    glass(store, "g1", "2026-03-01T10:00:00")
    assert sweep(store, ts("2026-03-01T09:59:59")) == 0
    assert sweep(store, ts("2026-03-01T10:00:00")) == 1
    assert sweep(store, ts("2026-03-01T11:00:00")) == 0
    (row,) = access_rows(store)
    assert row[1:7] == (
        "break-glass-expired",
        "p1",
        '["Practitioner/9"]',
        "[]",
        "[]",
        "break-glass/g1",
    )
    assert feed_row(store, row[0]) == ("Patient", "p1", 0, "access-expired")
    with store.records() as db:
        assert db.one("SELECT expiry_noted FROM break_glass WHERE id = 'g1'") == (1,)


def test_two_sweepers_at_once_note_each_end_once(
    store: Store, repo: Repository, db_url: str
) -> None:
    for i in range(5):
        create(repo, consent_body(period={"end": "2026-03-01"}))
        glass(store, f"g{i}", "2026-03-01T00:00:00")
    other = open_store(db_url)  # a second process's store on the same database
    results: list[int] = []
    errors: list[BaseException] = []

    def run(s: Store) -> None:
        try:
            results.append(sweep(s, ts("2026-06-01T00:00:00")))
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    try:
        threads = [threading.Thread(target=run, args=(s,)) for s in (store, other, store, other)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        other.close()
    assert errors == []
    assert sum(results) == 10
    assert len(access_rows(store)) == 10


# --- reading the changes -------------------------------------------------------------------------


def test_changes_since_filters_by_position_and_actor(store: Store, repo: Repository) -> None:
    mine = create(repo, consent_body())
    everyone = create(repo, consent_body(actors=()))
    theirs = create(repo, consent_body(actors=("Practitioner/90",)))
    with store.write() as session:
        seqs = [
            *note_consent_change(session, mine, withdrawn(mine), STAMP),
            *note_consent_change(session, everyone, withdrawn(everyone), STAMP),
            *note_consent_change(session, theirs, withdrawn(theirs), STAMP),
        ]
    with store.records() as db:
        every = changes_since(db, 0)
        assert [c["seq"] for c in every] == seqs
        assert every[0] == {
            "seq": seqs[0],
            "kind": "consent-revoked",
            "patient": "p1",
            "actors": ["Practitioner/9"],
            "types": [],
            "labels": [],
            "source": f"Consent/{mine['id']}",
            "recorded_at": STAMP,
        }
        assert [c["seq"] for c in changes_since(db, 0, actor="Practitioner/9")] == seqs[:2]
        assert [c["seq"] for c in changes_since(db, 0, actor="Practitioner/90")] == seqs[1:]
        assert [c["seq"] for c in changes_since(db, seqs[0])] == seqs[1:]
        assert [c["seq"] for c in changes_since(db, 0, limit=1)] == seqs[:1]
        assert changes_since(db, 0, actor="Practitioner/%") == [every[1]]


# --- GET /patient/consents ------------------------------------------------------------------

PATIENT = Caller("u1", ScopeSet.parse("user/Consent.rs"), role="patient", fhir_user="Patient/p1")
CALLERS = {
    "patient": PATIENT,
    "no-scope": Caller(
        "u1", ScopeSet.parse("user/Observation.rs"), role="patient", fhir_user="Patient/p1"
    ),
    "unlinked": Caller("u2", ScopeSet.parse("user/Consent.rs"), role="patient"),
    "doctor": Caller(
        "u3", ScopeSet.parse("user/*.cruds"), role="doctor", fhir_user="Practitioner/9"
    ),
}


def get_consents(store: Store, token: str | None) -> httpx.Response:
    """GET /patient/consents through the ASGI app, with a fake token check and a fixed clock."""
    from bedside.web.consent_api import ConsentApi
    from bedside.web.errors import handlers

    def authenticate(token: str) -> Caller:
        if token not in CALLERS:
            raise Unauthorized("bad token")
        return CALLERS[token]

    api = ConsentApi(store, authenticate, lambda: ts("2026-06-01T12:00:00"))
    app = Starlette(routes=api.routes(), exception_handlers=dict(handlers()))
    headers = {"Authorization": f"Bearer {token}"} if token else {}

    async def call() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            return await client.get("/patient/consents", headers=headers)

    return asyncio.run(call())


def test_a_patient_lists_their_consents_in_plain_words_newest_first(
    store: Store, repo: Repository
) -> None:
    put(
        repo,
        {
            "resourceType": "Practitioner",
            "id": "9",
            "name": [
                {"use": "official", "prefix": ["Dr"], "given": ["Ada"], "family": "Clinician"}
            ],
        },
    )
    first = create(repo, consent_body(period={"end": "2026-12-21"}))
    second = create(repo, consent_body(actors=("Organization/404",), status="draft"))
    create(repo, consent_body(patient="p2"))  # someone else's
    resp = get_consents(store, "patient")
    assert resp.status_code == 200
    assert resp.headers["cache-control"] == "no-store"
    body = resp.json()
    assert body["patient"] == "Patient/p1"
    assert [c["id"] for c in body["consents"]] == [second["id"], first["id"]]
    assert body["consents"][1]["sentence"] == (
        "Dr Ada Clinician may see all your records, until 21 December 2026."
    )
    assert body["consents"][0]["who"] == "Organization 404"
    assert body["consents"][0]["state"] == "Draft"


@pytest.mark.parametrize(
    ("token", "status"), [("no-scope", 403), ("unlinked", 403), ("doctor", 403), ("bad", 401)]
)
def test_only_a_linked_patient_with_consent_read_may_list(
    store: Store, token: str, status: int
) -> None:
    resp = get_consents(store, token)
    assert resp.status_code == status
    assert resp.json()["resourceType"] == "OperationOutcome"


def test_listing_consents_needs_a_bearer_token(store: Store) -> None:
    assert get_consents(store, None).status_code == 401


def test_access_change_json_columns_are_sorted_arrays(store: Store, repo: Repository) -> None:
    old = create(repo, consent_body(actors=("Practitioner/9", "CareTeam/t1")))
    with store.write() as session:
        note_consent_change(session, old, withdrawn(old), STAMP)
    (row,) = access_rows(store)
    assert json.loads(row[3]) == ["CareTeam/t1", "Practitioner/9"]
