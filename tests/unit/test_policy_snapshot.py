"""The offline policy snapshot: claims built from an AccessView, signed and verified."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import orjson
import pytest

from bedside.auth import tokens
from bedside.auth.caller import Caller
from bedside.auth.keys import SigningKeys, load_or_create, rotate
from bedside.auth.scopes import ScopeSet
from bedside.errors import PolicyError, Unauthorized
from bedside.policy.model import AccessView, PatientAccess, Refusal, Share
from bedside.policy.rules import PolicyRules, parse
from bedside.policy.snapshot import sign_snapshot, snapshot
from bedside.protocol.snapshot import TYP, verify_snapshot

ISSUER = "http://bedside.test/fhir"
NOW = 1_700_000_000.0
CONF = "http://terminology.hl7.org/CodeSystem/v3-Confidentiality"
ACT = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
RULES = PolicyRules.default()


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> SigningKeys:
    return load_or_create(tmp_path_factory.mktemp("keys"))


def doctor(scope: str = "user/*.cruds", **extra: Any) -> Caller:
    return Caller(
        "user-9",
        ScopeSet.parse(scope),
        client_id="ward-tablet",
        fhir_user="Practitioner/9",
        role="doctor",
        auth_time=int(NOW) - 60,
        **extra,
    )


def doctor_view() -> AccessView:
    role = RULES.role("doctor")
    return AccessView(
        "doctor",
        True,
        role.permissions,
        relations=(
            PatientAccess("p2", "location", "Encounter/e1"),
            PatientAccess("p1", "care-team", "CareTeam/ct1", NOW + 7200.7),
        ),
        glass=(PatientAccess("p9", "break-glass", "break-glass/bg-1", NOW + 1800),),
        shares=(
            Share(
                "p5",
                "Consent/c1",
                types=frozenset({"Observation", "Condition"}),
                labels_any=frozenset({(ACT, "HIV")}),
                labels_not=frozenset({(ACT, "PSY")}),
                until=NOW + 3600,
            ),
        ),
        refusals=(Refusal("p1", "Consent/c2", types=frozenset({"MedicationRequest"})),),
        sensitive=RULES.sensitive,
        now=NOW,
    )


def test_claims_carry_identity_validity_and_version() -> None:
    claims = snapshot(
        doctor_view(), doctor(device="dev-1"), issuer=ISSUER, rules=RULES, now=NOW + 0.9
    )
    assert claims["iss"] == ISSUER
    assert claims["sub"] == "user-9"
    assert claims["aud"] == "ward-tablet"
    assert claims["iat"] == claims["nbf"] == int(NOW)
    assert claims["exp"] == int(NOW) + RULES.snapshot_seconds
    assert claims["bedside_policy_version"] == 1
    assert claims["role"] == "doctor"
    assert claims["fhirUser"] == "Practitioner/9"
    assert claims["device"] == "dev-1"
    assert claims["confined"] is True
    assert len(claims["jti"]) >= 16


def test_device_claim_is_absent_without_a_device() -> None:
    claims = snapshot(doctor_view(), doctor(), issuer=ISSUER, rules=RULES, now=NOW)
    assert "device" not in claims


def test_patients_list_every_basis_with_its_own_until_in_a_stable_order() -> None:
    claims = snapshot(doctor_view(), doctor(), issuer=ISSUER, rules=RULES, now=NOW)
    assert claims["patients"] == [
        {"id": "p1", "basis": "care-team", "source": "CareTeam/ct1", "until": int(NOW) + 7200},
        {"id": "p2", "basis": "location", "source": "Encounter/e1", "until": None},
        {
            "id": "p5",
            "basis": "consent",
            "source": "Consent/c1",
            "until": int(NOW) + 3600,
            "types": ["Condition", "Observation"],
            "labels": [f"{ACT}|HIV"],
            "labels_not": [f"{ACT}|PSY"],
        },
        {
            "id": "p9",
            "basis": "break-glass",
            "source": "break-glass/bg-1",
            "until": int(NOW) + 1800,
        },
    ]
    assert claims["refusals"] == [
        {
            "id": "p1",
            "source": "Consent/c2",
            "until": None,
            "types": ["MedicationRequest"],
            "labels": None,
        }
    ]


def test_break_glass_ends_at_its_own_until_not_the_snapshot_expiry() -> None:
    claims = snapshot(doctor_view(), doctor(), issuer=ISSUER, rules=RULES, now=NOW)
    assert claims["exp"] == int(NOW) + 8 * 3600  # the grant does not shorten the snapshot
    assert claims["purpose"] == [{"patient": "p9", "code": "BTG", "until": int(NOW) + 1800}]


def test_sensitive_labels_are_system_bar_code_sorted() -> None:
    claims = snapshot(doctor_view(), doctor(), issuer=ISSUER, rules=RULES, now=NOW)
    assert claims["sensitive_labels"] == sorted(claims["sensitive_labels"])
    assert f"{CONF}|R" in claims["sensitive_labels"]
    assert f"{ACT}|HIV" in claims["sensitive_labels"]


def test_same_view_gives_same_claims_but_for_the_jti() -> None:
    one = snapshot(doctor_view(), doctor(), issuer=ISSUER, rules=RULES, now=NOW)
    two = snapshot(doctor_view(), doctor(), issuer=ISSUER, rules=RULES, now=NOW)
    assert one.pop("jti") != two.pop("jti")
    assert orjson.dumps(one) == orjson.dumps(two)


def test_permissions_are_role_letters_intersected_with_token_scopes() -> None:
    # doctor: "*" = crus, Consent = crus, AuditEvent = ""; token: read/search everything,
    # and create on Observation only
    caller = doctor("user/*.rs user/Observation.c")
    claims = snapshot(doctor_view(), caller, issuer=ISSUER, rules=RULES, now=NOW)
    assert claims["permissions"] == {"*": "rs", "AuditEvent": "", "Observation": "crs"}
    assert "filters" not in claims


def test_permissions_keep_the_wildcard_even_when_it_grants_nothing() -> None:
    claims = snapshot(doctor_view(), doctor("user/Patient.rs"), issuer=ISSUER, rules=RULES, now=NOW)
    assert claims["permissions"] == {"*": "", "Patient": "rs"}


def test_granular_scopes_become_filters_the_device_must_apply() -> None:
    query = "category=http://terminology.hl7.org/CodeSystem/observation-category|laboratory"
    caller = doctor(f"patient/Observation.rs?{query}", patient="p1")
    claims = snapshot(doctor_view(), caller, issuer=ISSUER, rules=RULES, now=NOW)
    assert claims["permissions"] == {"*": "", "Observation": "rs"}
    assert claims["filters"] == {"Observation": [query]}
    assert claims["patient"] == "p1"  # patient/ scopes only: confined to the launch patient


def test_a_service_is_not_confined_and_gets_its_scopes() -> None:
    service = Caller("lab-feed", ScopeSet.parse("system/Observation.cruds"), client_id="lab-feed")
    view = AccessView(None, False, {"*": frozenset("cruds")}, now=NOW)
    claims = snapshot(view, service, issuer=ISSUER, rules=RULES, now=NOW)
    assert claims["confined"] is False
    assert claims["role"] is None and claims["fhirUser"] is None
    assert claims["permissions"] == {"*": "", "Observation": "cruds"}
    assert claims["patients"] == [] and claims["purpose"] == []


def test_a_patient_sees_themself_as_basis_self() -> None:
    caller = Caller(
        "u-ana", ScopeSet.parse("patient/*.rs"), fhir_user="Patient/p1", role="patient",
        patient="p1",
    )  # fmt: skip
    role = RULES.role("patient")
    view = AccessView(
        "patient", True, role.permissions, glass=(PatientAccess("p1", "self", "self"),), now=NOW
    )
    claims = snapshot(view, caller, issuer=ISSUER, rules=RULES, now=NOW)
    assert claims["patients"] == [{"id": "p1", "basis": "self", "source": "self", "until": None}]
    assert claims["purpose"] == []
    assert claims["permissions"]["*"] == "rs"


def signed(keys: SigningKeys, **overrides: Any) -> tuple[str, dict[str, Any]]:
    claims = snapshot(doctor_view(), doctor(), issuer=ISSUER, rules=RULES, now=NOW)
    claims.update(overrides)
    return sign_snapshot(claims, keys), claims


def header_of(token: str) -> dict[str, Any]:
    part = token.split(".")[0]
    decoded: dict[str, Any] = orjson.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
    return decoded


def test_sign_and_verify_round_trip(keys: SigningKeys) -> None:
    token, claims = signed(keys)
    assert header_of(token) == {"alg": "RS256", "kid": keys.signing.kid, "typ": TYP}
    assert verify_snapshot(token, keys, now=NOW + 10, issuer=ISSUER) == claims


def test_a_device_verifies_with_the_public_jwks_alone(keys: SigningKeys) -> None:
    token, claims = signed(keys)
    jwks = orjson.loads(orjson.dumps(keys.public_jwks()))  # as fetched from /auth/jwks
    assert all("d" not in k for k in jwks["keys"])
    assert verify_snapshot(token, jwks, now=NOW + 10) == claims


def test_a_snapshot_from_a_rotated_out_key_still_verifies_while_the_key_is_kept(
    tmp_path: Path,
) -> None:
    old = load_or_create(tmp_path)
    token, _ = signed(old)
    new = rotate(tmp_path)
    assert new.signing.kid != old.signing.kid
    assert verify_snapshot(token, new, now=NOW)["sub"] == "user-9"


def test_a_device_snapshot_lists_its_pins_and_every_one_carries_offline_rules() -> None:
    with_device = snapshot(
        doctor_view(),
        doctor(device="dev-1"),
        issuer=ISSUER,
        rules=RULES,
        now=NOW,
        pins=["p5", "p1", "p5"],
    )
    assert with_device["pins"] == ["p1", "p5"]
    without = snapshot(doctor_view(), doctor(), issuer=ISSUER, rules=RULES, now=NOW, pins=["p1"])
    assert "pins" not in without
    assert (
        with_device["offline"]
        == without["offline"]
        == {
            "grace_seconds": 24 * 3600,
            "pin_attempts": 5,
            "inactivity_seconds": 300,
            "quick_unlock_seconds": 1800,
            "attachment_retention_seconds": 24 * 3600,
            "clinical_grace_seconds": 72 * 3600,
        }
    )


def test_a_policy_file_sets_offline_rules_and_refuses_unknown_ones() -> None:
    text = """
[roles.doctor]
patients = "related"
types = { "*" = "rs" }
[offline]
snapshot_hours = 2
grace_hours = 1
pin_attempts = 3
"""
    rules = parse(text, source="test")
    assert rules.snapshot_seconds == 7200
    assert rules.offline.grace_seconds == 3600
    assert rules.offline.pin_attempts == 3
    assert rules.offline.inactivity_seconds == 300  # the default stays
    with pytest.raises(PolicyError, match="no setting pin_tries"):
        parse(text.replace("pin_attempts", "pin_tries"), source="test")
    with pytest.raises(PolicyError, match=r"offline\.grace_hours must be a positive"):
        parse(text.replace("grace_hours = 1", "grace_hours = 0"), source="test")


def test_an_expired_snapshot_still_verifies_for_a_device_that_asks_with_expired_ok(
    keys: SigningKeys,
) -> None:
    token, claims = signed(keys)
    late = claims["exp"] + 10
    assert verify_snapshot(token, keys, now=late, expired_ok=True) == claims
    tampered = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    with pytest.raises(Unauthorized, match="signature or format"):
        verify_snapshot(tampered, keys, now=late, expired_ok=True)


def test_expired_snapshot_is_refused_exactly_at_exp(keys: SigningKeys) -> None:
    token, claims = signed(keys)
    verify_snapshot(token, keys, now=claims["exp"] - 1)
    with pytest.raises(Unauthorized, match="expired"):
        verify_snapshot(token, keys, now=claims["exp"])


def test_not_yet_valid_snapshot_is_refused(keys: SigningKeys) -> None:
    token, claims = signed(keys)
    with pytest.raises(Unauthorized, match="not valid yet"):
        verify_snapshot(token, keys, now=claims["nbf"] - 3600)


def test_tampered_payload_is_refused(keys: SigningKeys) -> None:
    token, claims = signed(keys)
    head, _, sig = token.split(".")
    widened = {**claims, "permissions": {"*": "cruds"}}
    body = base64.urlsafe_b64encode(orjson.dumps(widened)).rstrip(b"=").decode()
    with pytest.raises(Unauthorized, match="signature"):
        verify_snapshot(f"{head}.{body}.{sig}", keys, now=NOW)


def test_snapshot_signed_by_another_server_is_refused(keys: SigningKeys, tmp_path: Path) -> None:
    token, _ = signed(load_or_create(tmp_path))
    with pytest.raises(Unauthorized, match="signature"):
        verify_snapshot(token, keys, now=NOW)


def test_an_access_token_is_not_a_snapshot(keys: SigningKeys) -> None:
    token = tokens.issue(
        keys, subject="user-9", audience=ISSUER, scope="user/*.rs", ttl=600, now=NOW,
        extra={"bedside_policy_version": 1, "nbf": int(NOW)},
    )  # fmt: skip
    with pytest.raises(Unauthorized, match="not a policy snapshot"):
        verify_snapshot(token, keys, now=NOW)


def test_wrong_issuer_and_unknown_version_are_refused(keys: SigningKeys) -> None:
    token, _ = signed(keys)
    with pytest.raises(Unauthorized, match="another server"):
        verify_snapshot(token, keys, now=NOW, issuer="http://elsewhere.test/fhir")
    token, _ = signed(keys, bedside_policy_version=3)
    with pytest.raises(Unauthorized, match="version"):
        verify_snapshot(token, keys, now=NOW)


def test_every_claim_and_entry_field_is_documented() -> None:
    doc = (Path(__file__).resolve().parents[2] / "docs" / "policy-snapshot.md").read_text()
    query = "category=http://terminology.hl7.org/CodeSystem/observation-category|laboratory"
    caller = doctor(f"patient/Observation.rs?{query}", patient="p1", device="dev-1")
    claims = snapshot(doctor_view(), caller, issuer=ISSUER, rules=RULES, now=NOW)
    fields = {*claims, *(k for p in claims["patients"] for k in p)}
    fields |= {k for r in claims["refusals"] for k in r} | {k for p in claims["purpose"] for k in p}
    missing = sorted(f for f in fields if f"`{f}`" not in doc and f'"{f}"' not in doc)
    assert missing == []
