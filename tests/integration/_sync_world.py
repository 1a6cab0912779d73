"""A small world for sync push tests over real HTTP: clinicians on one patient's care team, each
with an enrolled device that signs its events with its own key, as the device node would.

Devices are enrolled like the real app does (docs/device-registry.md): sign in through the
built-in ``bedside-device`` client, ``POST /device/register``, refresh so the token names the
device. Events are made with :mod:`bedside.protocol.event`, the format both ends share.
"""

from __future__ import annotations

import base64
import json
import secrets
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import httpx
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from bedside.protocol.event import Event, format_time, public_key_text, sign
from bedside.store import open_store
from tests.integration._smart import Smart

CLIENT = "bedside-device"
SCOPE = "openid fhirUser offline_access user/*.cruds"
LOINC = "http://loinc.org"


@dataclass
class SyncDevice:
    username: str
    user_id: str
    practitioner: str
    device_id: str
    key: Ed25519PrivateKey
    access: str = ""
    refresh: str = ""
    seq: int = 0

    def event(
        self,
        action: str,
        resource: dict[str, Any],
        *,
        base: str | None = None,
        patient: str | None = None,
        seq: int | None = None,
        at: float | None = None,
        purpose: str | None = None,
        key: Ed25519PrivateKey | None = None,
    ) -> dict[str, Any]:
        """A signed event, with the next seq unless one is given."""
        if seq is None:
            self.seq += 1
            seq = self.seq
        event = Event(
            device=self.device_id,
            seq=seq,
            idempotency_key=secrets.token_urlsafe(24),
            device_time=format_time(at if at is not None else time.time()),
            user=self.user_id,
            patient=f"Patient/{patient}" if patient else None,
            action=action,
            resource_type=str(resource["resourceType"]),
            resource_id=str(resource["id"]),
            base_version=base,
            resource=resource,
            purpose=purpose,
        )
        return sign(event, key or self.key)


@dataclass
class Ward:
    """A patient and the practitioners on their care team."""

    patient: str
    practitioners: list[str] = field(default_factory=list)
    care_team: str = ""


def b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def new_ward(smart: Smart, *roles: str) -> tuple[Ward, list[tuple[str, str, str]]]:
    """A patient whose active CareTeam has one practitioner per role; (ward, users) where each
    user is (username, user id, practitioner id)."""
    patient = smart.create_patient("Synced")
    users = []
    for role in roles:
        practitioner = smart.create({"resourceType": "Practitioner", "name": [{"family": role}]})
        username = f"{role}-{secrets.token_hex(4)}"
        user_id = smart.add_user(username, role, f"Practitioner/{practitioner}")
        users.append((username, user_id, practitioner))
    team = smart.create(
        {
            "resourceType": "CareTeam",
            "status": "active",
            "subject": {"reference": f"Patient/{patient}"},
            "participant": [{"member": {"reference": f"Practitioner/{p}"}} for *_, p in users],
        }
    )
    return Ward(patient, [p for *_, p in users], team), users


def enrol(smart: Smart, user: tuple[str, str, str]) -> SyncDevice:
    """Sign in, register, refresh: the device then holds a token that names it."""
    username, user_id, practitioner = user
    device = SyncDevice(
        username, user_id, practitioner, f"dev-{secrets.token_hex(6)}", Ed25519PrivateKey.generate()
    )
    signed = smart.login(CLIENT, username, SCOPE)
    with api(smart, signed["access_token"]) as c:
        r = c.post(
            "/device/register",
            json={
                "device_id": device.device_id,
                "public_key": public_key_text(device.key.public_key()),
                "app_version": "1.0.0",
                "posture": {"os": "TestOS 1", "disk_encryption": True, "screen_lock": True},
                "escrow_key": b64(secrets.token_bytes(32)),
            },
        )
    assert r.status_code == 201, r.text
    refreshed = smart.refresh(signed["refresh_token"], CLIENT)
    assert refreshed.status_code == 200, refreshed.text
    device.access = refreshed.json()["access_token"]
    device.refresh = refreshed.json()["refresh_token"]
    return device


def api(smart: Smart, token: str | None) -> httpx.Client:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.Client(base_url=smart.root, headers=headers, timeout=60.0)


def push(
    smart: Smart,
    device: SyncDevice,
    events: list[dict[str, Any]],
    *,
    device_time: str | None = None,
    root: str | None = None,
) -> httpx.Response:
    body = {
        "protocol": 1,
        "device_time": device_time or format_time(time.time()),
        "events": events,
    }
    headers = {"Authorization": f"Bearer {device.access}"}
    return httpx.post(f"{root or smart.root}/sync/push", json=body, headers=headers, timeout=120.0)


def results(resp: httpx.Response) -> list[dict[str, Any]]:
    assert resp.status_code == 200, resp.text
    found: list[dict[str, Any]] = resp.json()["results"]
    return found


def new_id() -> str:
    return str(uuid.uuid4())


def observation(patient: str, value: float = 72.0) -> dict[str, Any]:
    return {
        "resourceType": "Observation",
        "id": new_id(),
        "status": "final",
        "code": {"coding": [{"system": LOINC, "code": "8867-4", "display": "Heart rate"}]},
        "subject": {"reference": f"Patient/{patient}"},
        "effectiveDateTime": "2026-11-21T10:00:00Z",
        "valueQuantity": {"value": value, "unit": "/min"},
    }


def task(patient: str, status: str = "requested") -> dict[str, Any]:
    return {
        "resourceType": "Task",
        "id": new_id(),
        "status": status,
        "intent": "order",
        "description": "Change the dressing",
        "for": {"reference": f"Patient/{patient}"},
    }


def sql(smart: Smart, query: str, *args: object) -> list[tuple[Any, ...]]:
    store = open_store(smart.database)
    try:
        with store.records() as db:
            return db.rows(query, args)
    finally:
        store.close()


def sql_write(smart: Smart, query: str, *args: object) -> None:
    store = open_store(smart.database)
    try:
        with store.records(write=True) as db:
            db.run(query, args)
    finally:
        store.close()


def audit_codes(smart: Smart, device_id: str) -> list[tuple[str, str]]:
    """(subtype code, outcome) of the audit entries naming the device, oldest first."""
    rows = sql(smart, "SELECT content FROM audit_log WHERE device = ? ORDER BY n", device_id)
    out = []
    for (content,) in rows:
        event = json.loads(bytes(content))
        out.append((event["subtype"][0]["code"], event["outcome"]))
    return out


def read(smart: Smart, path: str) -> dict[str, Any]:
    r = smart.get(path, smart.operator_token)
    assert r.status_code == 200, r.text
    found: dict[str, Any] = r.json()
    return found


def review_cli(smart: Smart, *args: str) -> str:
    """Run ``bedside review ARGS`` against the server's data; its stdout (asserted exit 0)."""
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "bedside",
            "review",
            *args,
            "--data-dir",
            str(smart.server.data_dir),
            "--database",
            smart.database,
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout
