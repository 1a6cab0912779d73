"""'Who has seen my record' (bedside.portal.accesses) on SQLite and PostgreSQL, from a real audit
chain: a clinician's read under break-glass is highlighted with the typed reason, a device's
sync names the device, a link's recipient is named, the patient's own visits are hidden unless
asked for, and nothing about another patient appears."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterator

import pytest

from bedside.audit.chain import AuditLog
from bedside.audit.entry import SUCCESS, AuditEntry, NullAuditor
from bedside.auth.caller import Caller
from bedside.auth.scopes import ScopeSet
from bedside.consent.evaluate import shares_for
from bedside.healthlinks.service import HealthLinks
from bedside.policy.decide import Policy
from bedside.portal.accesses import accesses
from bedside.portal.record import PortalRecord
from bedside.rest import FhirRequest, Repository
from bedside.store import Store
from tests.conftest import BASE, OPERATOR

PATIENT = Caller(
    "user-p1",
    ScopeSet.parse("user/*.rs user/Consent.cu"),
    fhir_user="Patient/p1",
    role="patient",
)
DOCTOR = Caller(
    "user-doc",
    ScopeSet.parse("user/*.rs"),
    client_id="ward-app",
    fhir_user="Practitioner/doc",
    role="doctor",
)


def _doctor_signed_in_now() -> Caller:
    """Break-glass wants a recent sign-in: stamped when the test runs, not when it was
    collected (a full run reaches this module many minutes after collecting it)."""
    return dataclasses.replace(DOCTOR, auth_time=int(time.time()))


@pytest.fixture
def audit(store: Store) -> Iterator[AuditLog]:
    log = AuditLog(store, server=BASE)
    yield log
    log.close()


@pytest.fixture
def world(store: Store, audit: AuditLog) -> None:
    op = Repository(
        store, OPERATOR, BASE, policy=Policy(consents=shares_for), auditor=NullAuditor()
    )
    op.handle(
        FhirRequest(
            "PUT",
            "Practitioner/doc",
            body={
                "resourceType": "Practitioner",
                "id": "doc",
                "name": [{"prefix": ["Dr"], "given": ["Sam"], "family": "Reyes"}],
            },
        )
    )
    for pid in ("p1", "p2"):
        op.handle(FhirRequest("PUT", f"Patient/{pid}", body={"resourceType": "Patient", "id": pid}))
        op.handle(
            FhirRequest(
                "PUT",
                f"Observation/o-{pid}",
                body={
                    "resourceType": "Observation",
                    "id": f"o-{pid}",
                    "status": "final",
                    "code": {"text": "Potassium"},
                    "subject": {"reference": f"Patient/{pid}"},
                },
            )
        )
    doctor = Repository(
        store, _doctor_signed_in_now(), BASE, auditor=audit, policy=Policy(consents=shares_for)
    )
    reason = {
        "resourceType": "Parameters",
        "parameter": [{"name": "reason", "valueString": "Collapsed in the waiting room"}],
    }
    doctor.handle(FhirRequest("POST", "Patient/p1/$break-glass", body=reason))
    doctor.handle(FhirRequest("GET", "Observation/o-p1"))
    doctor.handle(FhirRequest("POST", "Patient/p2/$break-glass", body=reason))
    doctor.handle(FhirRequest("GET", "Observation/o-p2"))
    audit.submit(
        [
            AuditEntry(
                "sync-pull",
                "R",
                SUCCESS,
                int(time.time() * 1000),
                user_ref="Practitioner/doc",
                subject="user-doc",
                role="doctor",
                device="dev-7",
                purpose=("TREAT",),
                patients=("p1",),
                entities=("Observation/o-p1/_history/1",),
            )
        ]
    )
    links = HealthLinks(store, root="http://bedside.test", fhir_base=BASE, auditor=audit)
    made = links.make(PATIENT, what=["results"])
    links.manifest(made.id, {"recipient": "Out-of-hours GP"})


def _record(store: Store, audit: AuditLog) -> PortalRecord:
    return PortalRecord(store, PATIENT, BASE, policy=Policy(consents=shares_for), auditor=audit)


def test_accesses_say_who_when_what_why_and_from_where(
    store: Store, audit: AuditLog, world: None
) -> None:
    page = accesses(_record(store, audit), store, app_names={"ward-app": "Ward app"}.get)
    items = page.items
    glass_read = next(a for a in items if a.break_glass and "test results" in a.what)
    assert glass_read.who == "Dr Sam Reyes, doctor"
    assert glass_read.why == "Emergency access (break-glass): “Collapsed in the waiting room”"
    assert glass_read.where == "The app Ward app"
    sync = next(a for a in items if a.where == "A Bedside device")
    assert sync.who == "Dr Sam Reyes, doctor" and sync.why == "For your care"
    link = next(a for a in items if a.where == "Your shared link")
    assert link.who == "Out-of-hours GP (named themselves when opening your link)"
    assert link.what == "what you shared in a link"
    assert not any(a.mine for a in items)
    # Newest first: the link was opened last, the break-glass read came before the sync.
    order = [items.index(link), items.index(sync), items.index(glass_read)]
    assert order == sorted(order)


def test_the_patients_own_visits_show_only_when_asked(
    store: Store, audit: AuditLog, world: None
) -> None:
    record = _record(store, audit)
    record.results()  # the patient looks at their results
    hidden = accesses(record, store).items
    shown = accesses(record, store, include_mine=True).items
    assert not any(a.mine for a in hidden)
    mine = [a for a in shown if a.mine]
    assert mine and all(a.who == "You" for a in mine)


def test_another_patients_accesses_never_appear(store: Store, audit: AuditLog, world: None) -> None:
    record = _record(store, audit)
    items = accesses(record, store, include_mine=True).items
    # p2's break-glass and read are in the chain but not about p1.
    glass = [a for a in items if a.break_glass]
    assert len(glass) == 2  # p1's break-glass start and p1's read, not p2's
    with store.records() as db:
        total = db.one("SELECT COUNT(*) FROM audit_log")
    assert total is not None and int(total[0]) > len(items)


def test_accesses_are_paged_newest_first(store: Store, audit: AuditLog, world: None) -> None:
    record = _record(store, audit)
    for _ in range(30):
        record.me()
    first = accesses(record, store, include_mine=True)
    assert len(first.items) == 25 and first.next_cursor is not None
    assert all(a.mine for a in first.items)  # the 30 newest events are the patient's own
    assert not any(a.break_glass for a in first.items)
    second = accesses(record, store, cursor=first.next_cursor, include_mine=True)
    assert any(a.break_glass for a in second.items)  # older: the clinician's, on page two


def test_a_long_record_is_read_past_its_first_page(
    store: Store, audit: AuditLog, world: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    import bedside.portal.record as record_module

    op = Repository(
        store, OPERATOR, BASE, policy=Policy(consents=shares_for), auditor=NullAuditor()
    )
    for i in range(4):
        body = {
            "resourceType": "Observation",
            "status": "final",
            "code": {"text": "Potassium"},
            "subject": {"reference": "Patient/p1"},
            "effectiveDateTime": f"2026-0{i + 1}-01",
        }
        op.handle(FhirRequest("POST", "Observation", body=body))
    monkeypatch.setattr(record_module, "_COUNT", "2")  # pages of two
    found = _record(store, audit).search("Observation")
    assert len(found) == 5  # o-p1 and the four above, over three pages
    assert all(o["subject"]["reference"] == "Patient/p1" for o in found)
