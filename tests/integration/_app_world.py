"""A clinician app in-process over a real device home, for the app's HTTP tests.

The home is a real SQLCipher store enrolled with a snapshot signed by keys made for the run
(:mod:`tests.integration._device_world`, with its controllable clock), holding three patients:
two on Ward 7 (beds 3 and 4) and one pinned, with the kinds of record the chart summarises.
The app is the one ``bedside device app`` serves (:func:`bedside.device.app.build_app`), driven
through Starlette's TestClient on the app's own loopback address, cookie and CSRF token and all.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from starlette.testclient import TestClient

from bedside.auth.caller import Caller
from bedside.auth.keys import SigningKeys
from bedside.auth.scopes import ScopeSet
from bedside.device import Node
from bedside.device.app import Gate, build_app
from bedside.device.app.pages import Pages
from bedside.device.app.syncer import Syncer
from bedside.policy.model import AccessView, PatientAccess
from bedside.policy.snapshot import sign_snapshot, snapshot
from tests.integration._device_world import (
    DEVICE,
    FAST,
    ISSUER,
    RULES,
    USER,
    Clock,
    new_pin,
    patient,
)

PORT = 8123
BASE = f"http://127.0.0.1:{PORT}"
WARD = "Ward 7"
CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
COMPLETE = {
    "respiration_rate": "22",
    "spo2": "95",
    "spo2_scale": "1",
    "air_or_oxygen": "air",
    "systolic_bp": "105",
    "pulse": "95",
    "consciousness": "alert",
    "temperature": "38.5",
}  # RCP 2017: 2 + 1 + 0 + 1 + 1 + 0 + 1 = NEWS2 6, medium


def mint(
    keys: SigningKeys,
    now: float,
    patients: tuple[str, ...],
    pins: tuple[str, ...],
    role: str = "nurse",
) -> str:
    view = AccessView(
        role,
        True,
        RULES.role(role).permissions,
        relations=tuple(PatientAccess(p, "care-team", f"CareTeam/ct-{p}") for p in patients),
        sensitive=RULES.sensitive,
        now=now,
    )
    caller = Caller(
        USER,
        ScopeSet.parse("user/*.cruds"),
        client_id="bedside-device",
        fhir_user="Practitioner/n1" if role == "nurse" else "Practitioner/d1",
        role=role,
        device=DEVICE,
    )
    claims = snapshot(view, caller, issuer=ISSUER, rules=RULES, now=now, pins=pins)
    return sign_snapshot(claims, keys)


def encounter(pid: str, *places: str) -> dict[str, Any]:
    return {
        "resourceType": "Encounter",
        "id": f"enc-{pid}",
        "meta": {"versionId": "1"},
        "status": "in-progress",
        "class": {"code": "IMP", "display": "inpatient encounter"},
        "subject": {"reference": f"Patient/{pid}"},
        "period": {"start": "2027-01-14T09:00:00Z"},
        "location": [{"location": {"display": place}, "status": "active"} for place in places],
    }


def record(pid: str) -> list[dict[str, Any]]:
    """A small chart: a problem, a medicine, an allergy, a care plan, a note."""

    def about(rtype: str, rid: str, **fields: Any) -> dict[str, Any]:
        key = "patient" if rtype == "AllergyIntolerance" else "subject"
        base = {"resourceType": rtype, "id": f"{rid}-{pid}", "meta": {"versionId": "1"}}
        return {**base, key: {"reference": f"Patient/{pid}"}, **fields}

    active = {"coding": [{"code": "active"}]}
    return [
        about(
            "Condition", "c1", clinicalStatus=active, code={"text": "Community-acquired pneumonia"}
        ),
        about(
            "MedicationRequest",
            "m1",
            status="active",
            intent="order",
            medicationCodeableConcept={"text": "Amoxicillin 500 mg capsules"},
            dosageInstruction=[{"text": "500 mg three times a day"}],
        ),
        about(
            "AllergyIntolerance",
            "a1",
            clinicalStatus=active,
            code={"text": "Penicillin"} if pid == "p2" else {"text": "Latex"},
        ),
        about(
            "CarePlan",
            "t1",
            status="active",
            intent="plan",
            activity=[
                {"detail": {"status": "scheduled", "description": "Repeat chest X-ray"}},
                {"detail": {"status": "completed", "description": "Blood cultures"}},
            ],
        ),
        about(
            "DocumentReference",
            "d1",
            status="current",
            description="Ward round note",
            content=[{"attachment": {"contentType": "text/plain"}}],
        ),
    ]


@dataclass
class AppWorld:
    home: Path
    clock: Clock
    pin: str
    node: Node
    gate: Gate
    client: TestClient
    csrf: str = ""

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.client.get(path, follow_redirects=False, **kwargs)

    def post(self, path: str, data: dict[str, str] | None = None, **kwargs: Any) -> httpx.Response:
        form = {"csrf": self.csrf, **(data or {})}
        return self.client.post(path, data=form, follow_redirects=False, **kwargs)

    def post_json(self, path: str, body: Any, **kwargs: Any) -> httpx.Response:
        headers = {"X-CSRF-Token": self.csrf, "Accept": "application/json"}
        return self.client.post(path, json=body, headers=headers, follow_redirects=False, **kwargs)

    def launch(self) -> httpx.Response:
        answer = self.client.get(self.gate.launch_url().removeprefix(BASE), follow_redirects=False)
        page = self.client.get("/unlock")
        found = re.search(r'name="csrf-token" content="([^"]+)"', page.text)
        self.csrf = found.group(1) if found else ""
        return answer

    def unlock(self, pin: str | None = None) -> httpx.Response:
        return self.post("/unlock", {"pin": pin or self.pin, "next": "/patients"})


def app_world(
    home: Path,
    keys: SigningKeys,
    *,
    launched: bool = True,
    now: float | None = None,
    role: str = "nurse",
) -> AppWorld:
    """The app over a fresh home; ``launched``: the launch URL spent and the PIN given.
    ``now``: the clock's start (the real time for a home another process will open)."""
    clock = Clock() if now is None else Clock(now)
    pin = new_pin()
    node, _ = Node.enroll_local(
        home,
        user=USER,
        device_id=DEVICE,
        server=ISSUER,
        client_id="bedside-device",
        pin=pin,
        snapshot_jws=mint(keys, clock(), ("p1", "p2", "p3"), ("p3",), role),
        jwks=keys.public_jwks(),
        refresh_token="rt-test",
        signing_key=Ed25519PrivateKey.generate(),
        kdf=FAST,
        clock=clock,
    )
    people = [patient("p1", "Alba Quennell"), patient("p2", "Brin Ottaway")]
    people.append(patient("p3", "Cai Pemberton"))
    people[0]["identifier"] = [{"use": "usual", "type": {"text": "MRN"}, "value": "MRN1001"}]
    people[1]["identifier"] = [{"use": "usual", "type": {"text": "MRN"}, "value": "MRN1002"}]
    node.receive(
        [
            *people,
            encounter("p1", WARD, "Bed 3"),
            encounter("p2", WARD, "Bed 4"),
            *record("p1"),
            *record("p2"),
        ]
    )
    node.lock()
    gate = Gate(PORT)
    pages = Pages(node, gate, Syncer(node), home)
    client = TestClient(build_app(pages), base_url=BASE)
    world = AppWorld(home, clock, pin, node, gate, client)
    if launched:
        world.launch()
        answer = world.unlock()
        assert answer.status_code == 303, answer.text
    return world
