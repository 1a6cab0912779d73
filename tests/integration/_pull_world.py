"""A world for the sync pull tests: a nurse, her enrolled device, her patient and a stranger.

Everything goes over real HTTP to a real `bedside serve` (tests/integration/_smart.py): the
device signs in through the built-in ``bedside-device`` client, registers, and refreshes so its
access token carries the ``device`` claim, as a real device does (docs/device-registry.md).
"""

from __future__ import annotations

import base64
import json
import secrets
from dataclasses import dataclass, field
from typing import Any

import httpx
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from bedside.protocol.event import public_key_text
from bedside.store import open_store
from tests.integration._smart import Nurse, Smart, new_nurse

CLIENT = "bedside-device"
SCOPE = "openid fhirUser offline_access user/*.cruds"
CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"


@dataclass
class Pulled:
    """Every answer of a pull until ``more`` was false, and the last token."""

    pages: list[dict[str, Any]] = field(default_factory=list)

    @property
    def next(self) -> str:
        return str(self.pages[-1]["next"])

    def resources(self) -> list[dict[str, Any]]:
        return [r for p in self.pages for r in p["resources"]]

    def versions(self) -> list[tuple[str, str, str]]:
        """(type, id, versionId) of every resource sent, in order, repeats kept."""
        return [(r["resourceType"], r["id"], r["meta"]["versionId"]) for r in self.resources()]

    def ids(self, rtype: str) -> list[str]:
        return [r["id"] for r in self.resources() if r["resourceType"] == rtype]

    def deleted(self) -> list[dict[str, str]]:
        return [d for p in self.pages for d in p["deleted"]]

    def purge(self) -> list[dict[str, Any]]:
        return [e for p in self.pages for e in p["purge"]]

    def snapshots(self) -> list[str]:
        return [p["snapshot"] for p in self.pages if "snapshot" in p]


@dataclass
class World:
    smart: Smart
    nurse: Nurse
    practitioner: str  # the nurse's Practitioner id
    device_id: str
    access: str
    refresh: str

    # --- HTTP ------------------------------------------------------------------------------------

    def api(self, token: str | None = None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token or self.access}"}
        return httpx.Client(base_url=self.smart.root, headers=headers, timeout=60.0)

    def pull_once(self, since: str | None = None, **params: str) -> httpx.Response:
        query: dict[str, str] = {"protocol": "1", **params}
        if since is not None:
            query["since"] = since
        with self.api() as c:
            return c.get("/sync/pull", params=query)

    def pull(self, since: str | None = None, *, limit: int = 1000) -> Pulled:
        """Pull until ``more`` is false (at most 100 pages)."""
        out = Pulled()
        for _ in range(100):
            r = self.pull_once(since, limit=str(limit))
            assert r.status_code == 200, r.text
            assert r.headers["cache-control"] == "no-store"
            body = r.json()
            out.pages.append(body)
            since = body["next"]
            if not body["more"]:
                return out
        raise AssertionError("the pull never finished")

    # --- data ------------------------------------------------------------------------------------

    def observation(self, patient: str, **extra: Any) -> str:
        return self.smart.create(observation(patient, **extra))

    def put(self, resource: dict[str, Any]) -> dict[str, Any]:
        with self.smart.fhir_client(self.smart.operator_token) as c:
            r = c.put(
                f"/{resource['resourceType']}/{resource['id']}",
                json=resource,
                headers={
                    "Content-Type": "application/fhir+json",
                    "Prefer": "return=representation",
                },
            )
        assert r.status_code in (200, 201), r.text
        body: dict[str, Any] = r.json()
        return body

    def read(self, rtype: str, rid: str) -> dict[str, Any]:
        r = self.smart.get(f"/{rtype}/{rid}", self.smart.operator_token)
        assert r.status_code == 200, r.text
        body: dict[str, Any] = r.json()
        return body

    def delete(self, rtype: str, rid: str) -> None:
        with self.smart.fhir_client(self.smart.operator_token) as c:
            assert c.delete(f"/{rtype}/{rid}").status_code == 200

    def care_team(self, patient: str) -> str:
        return self.smart.create(
            {
                "resourceType": "CareTeam",
                "status": "active",
                "subject": {"reference": f"Patient/{patient}"},
                "participant": [{"member": {"reference": f"Practitioner/{self.practitioner}"}}],
            }
        )

    def sql(self, query: str, *args: object) -> list[tuple[Any, ...]]:
        store = open_store(self.smart.database)
        try:
            with store.records() as db:
                return db.rows(query, args)
        finally:
            store.close()

    def audited_pulls(self) -> list[dict[str, Any]]:
        """The device's sync-pull AuditEvents, oldest first."""
        rows = self.sql(
            "SELECT content FROM audit_log WHERE device = ? AND subtype = ? ORDER BY n",
            self.device_id,
            "sync-pull",
        )
        return [json.loads(bytes(r[0])) for r in rows]


def observation(patient: str, *, code: str = "8867-4", **extra: Any) -> dict[str, Any]:
    return {
        "resourceType": "Observation",
        "status": "final",
        "category": [{"coding": [{"system": CATEGORY, "code": "vital-signs"}]}],
        "code": {"coding": [{"system": "http://loinc.org", "code": code}]},
        "subject": {"reference": f"Patient/{patient}"},
        "valueQuantity": {"value": 72, "unit": "/min"},
        **extra,
    }


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def enrol(smart: Smart, nurse: Nurse) -> tuple[str, str, str]:
    """Sign in, register a device, refresh: (device id, access token naming it, refresh)."""
    device_id = f"dev-{secrets.token_hex(6)}"
    signed = smart.login(CLIENT, nurse.username, SCOPE)
    body = {
        "device_id": device_id,
        "public_key": public_key_text(Ed25519PrivateKey.generate().public_key()),
        "app_version": "1.0.0",
        "posture": {"os": "TestOS 1", "disk_encryption": True, "screen_lock": True},
        "escrow_key": _b64(secrets.token_bytes(32)),
    }
    with httpx.Client(base_url=smart.root, timeout=30.0) as c:
        r = c.post(
            "/device/register",
            json=body,
            headers={"Authorization": f"Bearer {signed['access_token']}"},
        )
    assert r.status_code == 201, r.text
    refreshed = smart.refresh(signed["refresh_token"], CLIENT)
    assert refreshed.status_code == 200, refreshed.text
    tokens = refreshed.json()
    return device_id, tokens["access_token"], tokens["refresh_token"]


def new_world(smart: Smart) -> World:
    nurse = new_nurse(smart)
    (row,) = _rows(smart, "SELECT fhir_user FROM auth_users WHERE id = ?", nurse.user_id)
    practitioner = str(row[0]).removeprefix("Practitioner/")
    device_id, access, refresh = enrol(smart, nurse)
    return World(smart, nurse, practitioner, device_id, access, refresh)


def _rows(smart: Smart, query: str, *args: object) -> list[tuple[Any, ...]]:
    store = open_store(smart.database)
    try:
        with store.records() as db:
            return db.rows(query, args)
    finally:
        store.close()
