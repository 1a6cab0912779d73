"""A small hospital for policy tests: a clinician, a ward, five patients, one relation each.

* p-team: on the clinician's active CareTeam; has a normal and a sensitive (V) Observation
* p-ward: in an in-progress Encounter in a bed that is part of ward W1, which the clinician is
  assigned to
* p-assigned: assigned to the clinician directly (``bedside admin assign --patient``)
* p-stranger: no relation
* p-shared: no relation, but may share data by Consent (tests write the Consent)

Times come from a :class:`Clock` the test advances; the world is set at 2026-11-21 12:00 UTC.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from bedside.audit.chain import AuditLog
from bedside.audit.entry import NullAuditor
from bedside.auth.caller import Caller
from bedside.auth.scopes import ScopeSet
from bedside.consent.evaluate import shares_for
from bedside.policy import assignments
from bedside.policy.decide import Policy
from bedside.rest import FhirRequest, FhirResponse, Repository
from bedside.store.base import Store
from tests.conftest import BASE, OPERATOR

DOC = "Practitioner/doc"
NOON = datetime(2026, 11, 21, 12, 0, tzinfo=UTC).timestamp()
DAY = 86400.0
CONF = "http://terminology.hl7.org/CodeSystem/v3-Confidentiality"
ACT = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
PATIENTS = ("p-team", "p-ward", "p-assigned", "p-stranger", "p-shared")


class Clock:
    def __init__(self, now: float = NOON) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def observation(oid: str, patient: str, *labels: tuple[str, str]) -> dict[str, Any]:
    obs: dict[str, Any] = {
        "resourceType": "Observation",
        "id": oid,
        "status": "final",
        "code": {"text": "heart rate"},
        "subject": {"reference": f"Patient/{patient}"},
    }
    if labels:
        obs["meta"] = {"security": [{"system": s, "code": c} for s, c in labels]}
    return obs


def consent(
    cid: str,
    patient: str,
    *,
    status: str = "active",
    kind: str = "permit",
    actor: str | None = DOC,
    types: tuple[str, ...] = (),
    labels: tuple[tuple[str, str], ...] = (),
    end: str | None = None,
    nested: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    provision: dict[str, Any] = {"type": kind}
    if actor:
        provision["actor"] = [
            {
                "role": {
                    "coding": [
                        {
                            "system": "http://terminology.hl7.org/CodeSystem/v3-ParticipationType",
                            "code": "IRCP",
                        }
                    ]
                },
                "reference": {"reference": actor},
            }
        ]
    if types:
        provision["class"] = [
            {"system": "http://hl7.org/fhir/resource-types", "code": t} for t in types
        ]
    if labels:
        provision["securityLabel"] = [{"system": s, "code": c} for s, c in labels]
    if end:
        provision["period"] = {"start": "2026-11-01", "end": end}
    if nested:
        provision["provision"] = nested
    return {
        "resourceType": "Consent",
        "id": cid,
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
        "policyRule": {
            "coding": [
                {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "OPTIN"}
            ]
        },
        "provision": provision,
    }


WORLD: list[dict[str, Any]] = [
    {
        "resourceType": "Practitioner",
        "id": "doc",
        "name": [{"family": "Clinician", "given": ["Ada"]}],
    },
    {"resourceType": "Location", "id": "W1", "name": "Ward 1"},
    {
        "resourceType": "Location",
        "id": "W1-bed3",
        "name": "Bed 3",
        "partOf": {"reference": "Location/W1"},
    },
    *({"resourceType": "Patient", "id": p, "active": True} for p in PATIENTS),
    {
        "resourceType": "CareTeam",
        "id": "team1",
        "status": "active",
        "subject": {"reference": "Patient/p-team"},
        "period": {"start": "2026-11-01", "end": "2026-11-30"},
        "participant": [{"member": {"reference": DOC}}],
    },
    {
        "resourceType": "Encounter",
        "id": "enc-ward",
        "status": "in-progress",
        "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "IMP"},
        "subject": {"reference": "Patient/p-ward"},
        "location": [{"location": {"reference": "Location/W1-bed3"}, "status": "active"}],
    },
    *(observation(f"obs-{p}", p) for p in PATIENTS),
    observation("obs-p-team-secret", "p-team", (CONF, "V")),
    observation("obs-p-shared-psy", "p-shared", (ACT, "PSY")),
    {
        "resourceType": "Condition",
        "id": "cond-p-shared",
        "subject": {"reference": "Patient/p-shared"},
        "code": {"text": "asthma"},
    },
]


@dataclass
class Hospital:
    store: Store
    clock: Clock
    policy: Policy
    auditor: AuditLog | None = None

    def operator(self) -> Repository:
        return Repository(
            self.store, OPERATOR, BASE, policy=self.policy, auditor=self.auditor or NullAuditor()
        )

    def as_user(
        self, role: str, fhir_user: str, scope: str = "user/*.cruds", **extra: Any
    ) -> Repository:
        caller = Caller(
            f"u-{fhir_user.replace('/', '-')}",
            ScopeSet.parse(scope),
            client_id="ward-app",
            fhir_user=fhir_user,
            role=role,
            auth_time=int(self.clock()),
            **extra,
        )
        return Repository(
            self.store, caller, BASE, policy=self.policy, auditor=self.auditor or NullAuditor()
        )

    def doctor(self) -> Repository:
        return self.as_user("doctor", DOC)

    def put(self, resource: dict[str, Any]) -> FhirResponse:
        path = f"{resource['resourceType']}/{resource['id']}"
        return self.operator().handle(FhirRequest("PUT", path, body=resource))


def build(store: Store, *, audit: bool = False) -> Hospital:
    clock = Clock()
    hospital = Hospital(
        store,
        clock,
        Policy(clock=clock, consents=shares_for),
        AuditLog(store, server=BASE) if audit else None,
    )
    for resource in WORLD:
        assert hospital.put(resource).status in (200, 201)
    assignments.add(store, DOC, "location", "W1")
    assignments.add(store, DOC, "patient", "p-assigned")
    return hospital


def get(repo: Repository, path: str, *query: tuple[str, str]) -> FhirResponse:
    return repo.handle(FhirRequest("GET", path, query=query))


def status(repo: Repository, path: str, *query: tuple[str, str]) -> int:
    from bedside.errors import FhirError

    try:
        return get(repo, path, *query).status
    except FhirError as exc:
        return exc.status


def ids(resp: FhirResponse, mode: str = "match") -> set[str]:
    assert resp.resource is not None
    return {
        e["resource"]["id"]
        for e in resp.resource.get("entry", [])
        if e.get("search", {}).get("mode", "match") == mode
    }


Maker = Callable[[Store], Hospital]
