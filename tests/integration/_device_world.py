"""A device home for node tests: a doctor's snapshot signed by keys made at run time, a clock.

The snapshot is built by the server's own code (``bedside.policy.snapshot``) from an
AccessView, so the node is tested against real claims, and signed by SigningKeys generated for
the test session. Argon2id runs with cheap costs (8 MiB, one pass) to keep the suite fast.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from bedside.auth.caller import Caller
from bedside.auth.keys import SigningKeys
from bedside.auth.scopes import ScopeSet
from bedside.device import Node
from bedside.device.keys import KdfParams
from bedside.policy.model import AccessView, PatientAccess
from bedside.policy.rules import OfflineRules, PolicyRules
from bedside.policy.snapshot import sign_snapshot, snapshot

ISSUER = "http://bedside.test/fhir"
USER = "u-doc"
DEVICE = "dev-1"
NOW = 1_800_000_000.0
HOUR = 3600.0
FAST = KdfParams(time_cost=1, memory_cost=8192)
OFFLINE = OfflineRules(
    snapshot_seconds=8 * 3600,
    grace_seconds=3600,
    pin_attempts=3,
    inactivity_seconds=300,
    quick_unlock_seconds=1800,
    attachment_retention_seconds=86400,
    clinical_grace_seconds=7200,
)
RULES = replace(PolicyRules.default(), offline=OFFLINE)
LOINC = "http://loinc.org"


class Clock:
    def __init__(self, now: float = NOW) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def mint(
    keys: SigningKeys,
    now: float,
    *,
    patients: tuple[str, ...] = ("p1", "p2"),
    glass: tuple[str, ...] = (),
    role: str = "doctor",
    rules: PolicyRules = RULES,
) -> str:
    """A signed snapshot for USER on DEVICE: ``patients`` by care team, ``glass`` by break-glass."""
    view = AccessView(
        role,
        True,
        rules.role(role).permissions,
        relations=tuple(PatientAccess(p, "care-team", f"CareTeam/ct-{p}") for p in patients),
        glass=tuple(
            PatientAccess(p, "break-glass", f"break-glass/bg-{p}", now + HOUR) for p in glass
        ),
        sensitive=rules.sensitive,
        now=now,
    )
    caller = Caller(
        USER,
        ScopeSet.parse("user/*.cruds"),
        client_id="bedside-device",
        fhir_user="Practitioner/d1",
        role=role,
        device=DEVICE,
    )
    return sign_snapshot(snapshot(view, caller, issuer=ISSUER, rules=rules, now=now), keys)


def new_pin() -> str:
    return "".join(secrets.choice("0123456789") for _ in range(6))


@dataclass
class World:
    home: Path
    keys: SigningKeys
    clock: Clock
    pin: str
    escrow_key: bytes
    device_key: Ed25519PrivateKey
    node: Node

    def jwks(self) -> dict[str, Any]:
        return self.keys.public_jwks()


def enroll(home: Path, keys: SigningKeys, clock: Clock, **mint_args: Any) -> World:
    pin = new_pin()
    device_key = Ed25519PrivateKey.generate()
    node, ek = Node.enroll_local(
        home,
        user=USER,
        device_id=DEVICE,
        server=ISSUER,
        client_id="bedside-device",
        pin=pin,
        snapshot_jws=mint(keys, clock(), **mint_args),
        jwks=keys.public_jwks(),
        refresh_token="rt-" + secrets.token_urlsafe(16),
        signing_key=device_key,
        app_version="test",
        kdf=FAST,
        clock=clock,
    )
    return World(home, keys, clock, pin, ek, device_key, node)


def patient(pid: str, name: str, version: str = "1") -> dict[str, Any]:
    return {
        "resourceType": "Patient",
        "id": pid,
        "meta": {"versionId": version},
        "name": [{"use": "official", "given": [name.split()[0]], "family": name.split()[-1]}],
        "birthDate": "1950-02-03",
        "gender": "female",
    }


def pulse(
    pid: str,
    value: float,
    *,
    oid: str | None = None,
    version: str | None = None,
    when: str = "2027-01-15T08:00:00Z",
    note: str | None = None,
) -> dict[str, Any]:
    obs: dict[str, Any] = {
        "resourceType": "Observation",
        "status": "final",
        "category": [
            {
                "coding": [
                    {
                        "system": "http://terminology.hl7.org/CodeSystem/observation-category",
                        "code": "vital-signs",
                    }
                ]
            }
        ],
        "code": {"coding": [{"system": LOINC, "code": "8867-4"}], "text": "Heart rate"},
        "subject": {"reference": f"Patient/{pid}"},
        "effectiveDateTime": when,
        "valueQuantity": {"value": value, "unit": "/min"},
    }
    if oid is not None:
        obs["id"] = oid
    if version is not None:
        obs["meta"] = {"versionId": version}
    if note is not None:
        obs["note"] = [{"text": note}]
    return obs
