"""The device registry (docs/device-registry.md) over real HTTP, against a real `bedside serve`
on each backend: enrolment through the built-in ``bedside-device`` client, the ``device`` claim
on refreshed tokens, status, the escrow key, pins checked by policy, administration by API and
CLI, and the audit trail of every decision."""

from __future__ import annotations

import base64
import json
import secrets
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from bedside.auth import tokens
from bedside.auth.keys import load_or_create
from bedside.errors import ConfigurationError
from bedside.fleet.escrow import EscrowSeal
from bedside.protocol.event import public_key_text
from bedside.store import open_store
from tests.conftest import BACKENDS
from tests.integration._smart import REDIRECT, Nurse, Smart, new_nurse, pkce_pair, smart_server

CLIENT = "bedside-device"
SCOPE = "openid fhirUser offline_access user/*.cruds"


@pytest.fixture(scope="module", params=BACKENDS)
def smart(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Smart]:
    with smart_server(tmp_path_factory, str(request.param)) as s:
        yield s


# --- a small world: a nurse on one patient's care team, and a patient she has no relation to ---


@dataclass
class Device:
    device_id: str
    key: Ed25519PrivateKey
    escrow: bytes
    access: str = ""
    refresh: str = ""
    registered: dict[str, Any] = field(default_factory=dict)

    def body(self, *, escrow: bool = True) -> dict[str, Any]:
        sent: dict[str, Any] = {
            "device_id": self.device_id,
            "public_key": public_key_text(self.key.public_key()),
            "app_version": "1.0.0",
            "posture": {"os": "TestOS 1", "disk_encryption": True, "screen_lock": None},
        }
        if escrow:
            sent["escrow_key"] = b64(self.escrow)
        return sent


def b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def sign_in(smart: Smart, username: str) -> dict[str, Any]:
    return smart.login(CLIENT, username, SCOPE)


def api(smart: Smart, token: str | None) -> httpx.Client:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.Client(base_url=smart.root, headers=headers, timeout=30.0)


def claims(smart: Smart, token: str) -> dict[str, Any]:
    return tokens.decode(load_or_create(smart.server.data_dir), token, audience=smart.fhir)


def refresh(smart: Smart, device: Device) -> httpx.Response:
    r = smart.refresh(device.refresh, CLIENT)
    if r.status_code == 200:
        device.access, device.refresh = r.json()["access_token"], r.json()["refresh_token"]
    return r


def enrol(smart: Smart, nurse: Nurse) -> Device:
    """Sign in, register, refresh: the device then holds a token that names it."""
    device = Device(f"dev-{secrets.token_hex(6)}", Ed25519PrivateKey.generate(), os_random())
    signed = sign_in(smart, nurse.username)
    device.access, device.refresh = signed["access_token"], signed["refresh_token"]
    with api(smart, device.access) as c:
        r = c.post("/device/register", json=device.body())
    assert r.status_code == 201, r.text
    device.registered = r.json()
    assert refresh(smart, device).status_code == 200
    return device


def os_random() -> bytes:
    return secrets.token_bytes(32)


def outcome(resp: httpx.Response) -> list[str]:
    body = resp.json()
    assert body["resourceType"] == "OperationOutcome"
    return [str(i["diagnostics"]) for i in body["issue"]]


def sql(smart: Smart, query: str, *args: object, write: bool = False) -> list[tuple[Any, ...]]:
    store = open_store(smart.database)
    try:
        with store.records(write=write) as db:
            if write:
                db.run(query, args)
                return []
            return db.rows(query, args)
    finally:
        store.close()


def audited(smart: Smart, device_id: str) -> list[tuple[str, str]]:
    """(subtype code, outcome) of the device's audit entries, oldest first."""
    rows = sql(smart, "SELECT content FROM audit_log WHERE device = ? ORDER BY n", device_id)
    out = []
    for (content,) in rows:
        event = json.loads(bytes(content))
        out.append((event["subtype"][0]["code"], event["outcome"]))
    return out


def admin_token(smart: Smart) -> str:
    username = f"admin-{secrets.token_hex(4)}"
    smart.add_user(username, "admin", "Practitioner/admin")
    return str(sign_in(smart, username)["access_token"])


# --- the built-in client and its loopback redirect ---------------------------------------------


@pytest.mark.parametrize(
    ("redirect", "accepted"),
    [
        ("http://127.0.0.1:53123/callback", True),
        ("http://127.0.0.1:1/callback", True),
        ("http://127.0.0.1/callback", True),
        ("http://127.0.0.1:53123/other", False),
        ("http://127.0.0.1:53123/callback?x=1", False),
        ("http://127.0.0.1:53123/callback#x", False),
        ("http://localhost:53123/callback", False),
        ("http://[::1]:53123/callback", False),
        ("http://127.0.0.1:99999/callback", False),
        ("http://user@127.0.0.1:53123/callback", False),
        ("https://127.0.0.1:53123/callback", False),
        ("https://evil.example/callback", False),
    ],
)
def test_device_client_takes_any_loopback_port_and_nothing_else(
    smart: Smart, redirect: str, accepted: bool
) -> None:
    _, challenge = pkce_pair()
    params = smart.authorize_params(CLIENT, SCOPE, challenge=challenge, state="s1")
    params["redirect_uri"] = redirect
    with smart.browser() as b:
        r = b.get("/auth/authorize", params=params)
    if accepted:
        assert r.status_code == 303 and r.headers["location"].startswith("/auth/signin")
    else:
        assert r.status_code == 400 and "redirect_uri" in r.text


def test_a_registered_port_stays_exact_for_other_apps(smart: Smart) -> None:
    client_id = f"fixed-{secrets.token_hex(3)}"
    smart.add_app(client_id)  # registered with REDIRECT, which names port 9
    _, challenge = pkce_pair()
    params = smart.authorize_params(client_id, "openid", challenge=challenge, state="s")
    with smart.browser() as b:
        exact = b.get("/auth/authorize", params=params)
        params["redirect_uri"] = REDIRECT.replace(":9/", ":10/")
        other = b.get("/auth/authorize", params=params)
    assert exact.status_code == 303 and other.status_code == 400


# --- registration ------------------------------------------------------------------------------


def test_registration_binds_the_grant_so_refreshed_tokens_name_the_device(smart: Smart) -> None:
    nurse = new_nurse(smart)
    device = Device(f"dev-{secrets.token_hex(6)}", Ed25519PrivateKey.generate(), os_random())
    signed = sign_in(smart, nurse.username)
    device.access, device.refresh = signed["access_token"], signed["refresh_token"]
    first = claims(smart, device.access)
    assert "device" not in first
    with api(smart, device.access) as c:
        r = c.post("/device/register", json=device.body())
    assert r.status_code == 201, r.text
    assert r.json()["device_id"] == device.device_id and r.json()["status"] == "active"
    assert r.json()["registered_at"].endswith("Z")
    assert r.headers["cache-control"] == "no-store"

    assert refresh(smart, device).status_code == 200
    later = claims(smart, device.access)
    assert later["device"] == device.device_id
    assert later["sid"] == first["sid"] and later["auth_time"] == first["auth_time"]

    with api(smart, device.access) as c:  # again, as the device no longer holds the escrow key
        again = c.post("/device/register", json=device.body(escrow=False) | {"app_version": "1.1"})
        same = c.post("/device/register", json=device.body())
    assert again.status_code == 200 and again.json() == r.json()
    assert same.status_code == 200
    query = "SELECT app_version, user_id, escrow_key FROM devices WHERE device_id = ?"
    (row,) = sql(smart, query, device.device_id)
    assert row[0] == "1.0.0" and row[1] == nurse.user_id
    assert b64(device.escrow) not in row[2] and row[2].startswith("v1.")  # sealed at rest
    assert audited(smart, device.device_id) == [("device-register", "0")] * 3


def test_a_taken_device_id_or_a_bound_grant_is_a_conflict(smart: Smart) -> None:
    nurse, other = new_nurse(smart), new_nurse(smart)
    device = enrol(smart, nurse)
    thief = sign_in(smart, other.username)["access_token"]
    newcomer = Device(device.device_id, Ed25519PrivateKey.generate(), os_random())
    with api(smart, thief) as c:
        by_other_user = c.post("/device/register", json=device.body())
    with api(smart, device.access) as c:
        other_key = c.post("/device/register", json=newcomer.body())
        other_escrow = c.post(
            "/device/register", json=device.body() | {"escrow_key": b64(os_random())}
        )
        second = Device(f"dev-{secrets.token_hex(6)}", device.key, os_random())
        second_device = c.post("/device/register", json=second.body())
    for resp in (by_other_user, other_key, other_escrow, second_device):
        assert resp.status_code == 409, resp.text
        assert device.device_id not in outcome(resp)[0]
    assert "another device" in outcome(second_device)[0]
    refused = [e for e in audited(smart, device.device_id) if e[1] == "4"]
    assert len(refused) == 3 and {e[0] for e in refused} == {"device-register"}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"escrow_key": None}, "escrow_key is required to register a new device."),
        ({"escrow_key": "c2hvcnQ"}, "escrow_key must be 32 random bytes in base64url."),
        ({"public_key": "not-a-key"}, "public_key must be the device's Ed25519 public key"),
        ({"device_id": "no spaces"}, "device_id must be 1 to 64 letters, digits, dashes"),
        ({"app_version": ""}, "app_version must be text of 1 to 64 characters."),
        ({"posture": {"os": {"nested": 1}}}, "Each posture fact must be true, false, null"),
    ],
)
def test_a_malformed_registration_is_refused_with_a_sentence(
    smart: Smart, change: dict[str, Any], message: str
) -> None:
    nurse = new_nurse(smart)
    device = Device(f"dev-{secrets.token_hex(6)}", Ed25519PrivateKey.generate(), os_random())
    body = {k: v for k, v in (device.body() | change).items() if v is not None}
    with api(smart, sign_in(smart, nurse.username)["access_token"]) as c:
        r = c.post("/device/register", json=body)
    assert r.status_code == 400
    (diagnostics,) = outcome(r)
    assert diagnostics.startswith(message)


def test_registration_needs_a_users_sign_in(smart: Smart) -> None:
    body = Device("dev-op", Ed25519PrivateKey.generate(), os_random()).body()
    with api(smart, None) as c:
        anonymous = c.post("/device/register", json=body)
    with api(smart, smart.operator_token) as c:
        operator = c.post("/device/register", json=body)
    assert anonymous.status_code == 401 and "Bearer" in anonymous.headers["www-authenticate"]
    assert operator.status_code == 403
    assert sql(smart, "SELECT 1 FROM devices WHERE device_id = ?", "dev-op") == []


# --- status and the escrow key -----------------------------------------------------------------


def test_status_answers_for_the_token_device_or_a_named_own_device(smart: Smart) -> None:
    nurse, other = new_nurse(smart), new_nurse(smart)
    device = enrol(smart, nurse)
    fresh = sign_in(smart, nurse.username)["access_token"]  # a new sign-in, not yet bound
    with api(smart, device.access) as c:
        own = c.get("/device/status")
    with api(smart, fresh) as c:
        named = c.get("/device/status", params={"device_id": device.device_id})
        unnamed = c.get("/device/status")
    with api(smart, sign_in(smart, other.username)["access_token"]) as c:
        foreign = c.get("/device/status", params={"device_id": device.device_id})
    expected = {"device_id": device.device_id, "status": "active"}
    assert own.json() == expected and named.json() == expected
    assert unnamed.status_code == 400 and foreign.status_code == 404
    assert audited(smart, device.device_id) == [("device-register", "0"), ("device-status", "4")]


def test_unlock_key_returns_the_escrow_key_only_after_a_fresh_sign_in(smart: Smart) -> None:
    nurse = new_nurse(smart)
    device = enrol(smart, nurse)
    unbound = sign_in(smart, nurse.username)["access_token"]
    with api(smart, device.access) as c:
        fresh = c.post("/device/unlock-key")
    with api(smart, unbound) as c:
        no_device = c.post("/device/unlock-key")
    assert fresh.status_code == 200 and fresh.headers["cache-control"] == "no-store"
    assert fresh.json() == {"escrow_key": b64(device.escrow)}
    assert no_device.status_code == 403

    signed_in_an_hour_ago = "UPDATE auth_grants SET created_at = created_at - 3600 WHERE device = ?"
    sql(smart, signed_in_an_hour_ago, device.device_id, write=True)
    assert refresh(smart, device).status_code == 200
    with api(smart, device.access) as c:
        stale = c.post("/device/unlock-key")
    assert stale.status_code == 401
    assert "insufficient_user_authentication" in stale.headers["www-authenticate"]
    assert b64(device.escrow) not in stale.text
    assert [e for e in audited(smart, device.device_id) if e[0] == "device-unlock-key"] == [
        ("device-unlock-key", "0"),
        ("device-unlock-key", "4"),
    ]


# --- pins --------------------------------------------------------------------------------------


def test_pins_are_checked_by_policy_and_carried_in_the_snapshot(smart: Smart) -> None:
    nurse = new_nurse(smart)
    device = enrol(smart, nurse)
    with api(smart, device.access) as c:
        assert c.put(f"/device/pins/{nurse.patient}").status_code == 204
        assert c.put(f"/device/pins/{nurse.patient}").status_code == 204  # idempotent
        outside = c.put(f"/device/pins/{nurse.stranger}")
        unknown = c.put("/device/pins/no-such-patient")
        malformed = c.put("/device/pins/a%20b")
        pinned = c.get("/device/pins").json()
        snap = c.get("/policy/snapshot", headers={"Accept": "application/json"}).json()
    assert outside.status_code == 403 and unknown.status_code == 403
    assert outcome(outside) == ["You can pin only patients you may see now."]
    assert malformed.status_code == 400
    assert pinned == {"pins": [nurse.patient]}
    assert snap["claims"]["device"] == device.device_id
    assert snap["claims"]["pins"] == [nurse.patient]

    with api(smart, device.access) as c:
        assert c.delete(f"/device/pins/{nurse.patient}").status_code == 204
        assert c.get("/device/pins").json() == {"pins": []}
    with api(smart, sign_in(smart, nurse.username)["access_token"]) as c:
        assert c.get("/device/pins").status_code == 403  # a token that names no device
    entries = audited(smart, device.device_id)
    assert ("device-pin", "0") in entries and ("device-unpin", "0") in entries
    query = (
        "SELECT p.patient FROM audit_patients p JOIN audit_log l ON l.n = p.n"
        " WHERE l.device = ? AND l.outcome = '4'"
    )
    refused = sql(smart, query, device.device_id)
    assert (nurse.stranger,) in refused


# --- administration ----------------------------------------------------------------------------


def test_only_administrators_list_and_change_devices(smart: Smart) -> None:
    nurse = new_nurse(smart)
    device = enrol(smart, nurse)
    with api(smart, device.access) as c:
        assert c.get("/devices").status_code == 403
        assert c.post(f"/devices/{device.device_id}/revoke").status_code == 403
        assert c.post(f"/devices/{device.device_id}/wipe").status_code == 403
    with api(smart, admin_token(smart)) as c:
        listed = c.get("/devices", params={"status": "active"})
        bad = c.get("/devices", params={"status": "lost"})
        missing = c.post("/devices/no-such-device/revoke")
    item = next(d for d in listed.json()["devices"] if d["device_id"] == device.device_id)
    assert item["user"] == nurse.user_id and item["username"] == nurse.username
    assert item["posture"] == {
        "os": "TestOS 1",
        "disk_encryption": True,
        "screen_lock": None,
        "debugger": None,  # not sent: null, as every known fact not reported
        "root": None,
    }
    assert "escrow_key" not in item and b64(device.escrow) not in listed.text
    assert bad.status_code == 400 and missing.status_code == 404
    assert [e for e in audited(smart, device.device_id) if e[0] == "device-revoke"] == [
        ("device-revoke", "4")
    ]


def test_a_revoked_device_loses_its_tokens_and_refresh_but_hears_why(smart: Smart) -> None:
    nurse = new_nurse(smart)
    device = enrol(smart, nurse)
    with api(smart, smart.operator_token) as c:
        r = c.post(f"/devices/{device.device_id}/revoke")
        again = c.post(f"/devices/{device.device_id}/revoke")
    assert r.status_code == 200 and r.json()["status"] == "revoked"
    assert again.status_code == 200 and again.json()["status"] == "revoked"

    assert smart.get("/Patient", device.access).status_code == 401
    assert refresh(smart, device).status_code == 400
    with api(smart, device.access) as c:
        assert c.get("/device/pins").status_code == 401
        status = c.get("/device/status")
        key = c.post("/device/unlock-key")
        register = c.post("/device/register", json=device.body())
    assert status.json() == {"device_id": device.device_id, "status": "revoked"}
    assert key.status_code == 403 and outcome(key)[1] == '{"status":"revoked"}'
    assert register.status_code == 401
    with api(smart, sign_in(smart, nurse.username)["access_token"]) as c:
        back = c.post("/device/register", json=device.body())
    assert back.status_code == 409 and outcome(back)[1] == '{"status":"revoked"}'
    entries = audited(smart, device.device_id)
    assert entries.count(("device-revoke", "0")) == 2 and ("device-status", "0") in entries


def test_a_device_flagged_for_wipe_may_only_learn_it(smart: Smart) -> None:
    nurse = new_nurse(smart)
    device = enrol(smart, nurse)
    with api(smart, admin_token(smart)) as c:
        r = c.post(f"/devices/{device.device_id}/wipe")
    assert r.status_code == 200 and r.json()["status"] == "wipe"

    assert refresh(smart, device).status_code == 200  # it must still be able to check in
    assert claims(smart, device.access)["device"] == device.device_id
    assert smart.get("/Patient", device.access).status_code == 401
    with api(smart, device.access) as c:
        assert c.get("/policy/snapshot").status_code == 401
        status = c.get("/device/status")
        key = c.post("/device/unlock-key")
    assert status.json() == {"device_id": device.device_id, "status": "wipe"}
    assert key.status_code == 410 and outcome(key)[1] == '{"status":"wipe"}'
    assert b64(device.escrow) not in key.text
    with api(smart, smart.operator_token) as c:
        assert c.post(f"/devices/{device.device_id}/revoke").status_code == 409
    assert ("device-unlock-key", "4") in audited(smart, device.device_id)


def test_admin_cli_lists_revokes_and_wipes(smart: Smart) -> None:
    nurse = new_nurse(smart)
    device, other = enrol(smart, nurse), enrol(smart, nurse)
    listed = json.loads(smart.admin("device", "list", "--json"))
    assert device.device_id in {d["device_id"] for d in listed}
    assert all("escrow_key" not in d for d in listed)
    table = smart.admin("device", "list")
    assert device.device_id in table

    revoked = json.loads(smart.admin("device", "revoke", device.device_id, "--json"))
    assert revoked["status"] == "revoked"
    assert refresh(smart, device).status_code == 400
    wiped = json.loads(smart.admin("device", "wipe", other.device_id, "--json"))
    assert wiped["status"] == "wipe"
    only = json.loads(smart.admin("device", "list", "--status", "wipe", "--json"))
    assert other.device_id in {d["device_id"] for d in only}
    assert device.device_id not in {d["device_id"] for d in only}

    missing = smart_admin_failure(smart, "device", "revoke", "no-such-device")
    assert "There is no device with this id." in missing
    assert ("device-revoke", "0") in audited(smart, device.device_id)
    assert ("device-wipe", "0") in audited(smart, other.device_id)


def smart_admin_failure(smart: Smart, *args: str) -> str:
    """Run ``bedside admin ARGS`` expecting it to fail; its standard error."""
    command = [sys.executable, "-m", "bedside", "admin", *args]
    command += ["--data-dir", str(smart.server.data_dir), "--database", smart.database]
    proc = subprocess.run(command, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1, proc.stdout
    return proc.stderr


# --- the escrow seal, without a server -----------------------------------------------------------


def test_a_sealed_escrow_key_opens_only_for_its_device_and_user(tmp_path: Path) -> None:
    seal = EscrowSeal.load_or_create(tmp_path)
    assert (tmp_path / "keys" / "escrow-seal.key").stat().st_mode & 0o777 == 0o600
    assert (
        EscrowSeal.load_or_create(tmp_path).open(  # the same key on the next start
            seal.seal(b"k" * 32, device_id="d1", user_id="u1"), device_id="d1", user_id="u1"
        )
        == b"k" * 32
    )
    sealed = seal.seal(b"k" * 32, device_id="d1", user_id="u1")
    assert sealed != seal.seal(b"k" * 32, device_id="d1", user_id="u1")  # fresh nonce each time
    for device_id, user_id in (("d2", "u1"), ("d1", "u2")):  # copied onto another row
        with pytest.raises(ConfigurationError):
            seal.open(sealed, device_id=device_id, user_id=user_id)
    with pytest.raises(ConfigurationError):
        EscrowSeal(secrets.token_bytes(32)).open(sealed, device_id="d1", user_id="u1")
