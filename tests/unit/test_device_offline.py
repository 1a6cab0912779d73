"""Offline decisions from a verified policy snapshot (bedside.device.offline).

Claims are built directly for the rules, then through the real snapshot → sign → verify path,
and finally compared resource by resource with the server's own visibility (bedside.rest.access
over a real SQLite store): offline must decide exactly what the server decides.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bedside.audit.entry import NullAuditor
from bedside.auth.caller import Caller
from bedside.auth.keys import load_or_create
from bedside.auth.scopes import ScopeSet
from bedside.consent.evaluate import shares_for
from bedside.device.errors import DeviceError
from bedside.device.offline import LAUNCH, UNCONFINED, Mode, OfflinePolicy
from bedside.policy.decide import Policy
from bedside.policy.model import AccessView, PatientAccess, Refusal, Share
from bedside.policy.rules import PolicyRules
from bedside.policy.snapshot import sign_snapshot, snapshot
from bedside.protocol.snapshot import verify_snapshot
from bedside.rest import FhirRequest, Repository
from bedside.rest.access import Access
from bedside.store import Store, open_store

NOW = 1_700_000_000
HOUR = 3600
ISSUER = "http://bedside.test/fhir"
ACT = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
CONF = "http://terminology.hl7.org/CodeSystem/v3-Confidentiality"
CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
HIV, PSY, R = (ACT, "HIV"), (ACT, "PSY"), (CONF, "R")
NORMAL_LABEL = (CONF, "N")  # a label that is not in the sensitive list
RULES = PolicyRules.default()
SENSITIVE = sorted(f"{s}|{c}" for s, c in RULES.sensitive)


def claims(**over: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "iss": ISSUER,
        "sub": "user-9",
        "iat": NOW,
        "nbf": NOW,
        "exp": NOW + 8 * HOUR,
        "bedside_policy_version": 1,
        "role": "nurse",
        "fhirUser": "Practitioner/9",
        "device": "dev-1",
        "pins": [],
        "offline": {**RULES.offline.claims(), "grace_seconds": 2 * HOUR},
        "permissions": dict(sorted({"*": "rs", "Observation": "crus", "AuditEvent": ""}.items())),
        "confined": True,
        "patients": [
            {"id": "p1", "basis": "care-team", "source": "CareTeam/ct1", "until": NOW + HOUR},
            {"id": "p2", "basis": "location", "source": "Encounter/e1", "until": None},
            {
                "id": "p5",
                "basis": "consent",
                "source": "Consent/c1",
                "until": NOW + 2 * HOUR,
                "types": ["Condition", "Observation"],
                "labels": [f"{ACT}|HIV"],
                "labels_not": [f"{ACT}|PSY"],
            },
            {"id": "p9", "basis": "break-glass", "source": "break-glass/bg", "until": NOW + 1800},
        ],
        "refusals": [
            {
                "id": "p1",
                "source": "Consent/c2",
                "until": None,
                "types": ["Condition"],
                "labels": None,
            },
            {"id": "p9", "source": "Consent/c3", "until": None, "types": None, "labels": None},
        ],
        "sensitive_labels": SENSITIVE,
        "purpose": [{"patient": "p9", "code": "BTG", "until": NOW + 1800}],
    }
    base.update(over)
    return base


def resource(
    rtype: str, patient: str | None = "p1", *labels: tuple[str, str], **extra: Any
) -> dict[str, Any]:
    body: dict[str, Any] = {"resourceType": rtype, "id": f"{rtype.lower()}-1", **extra}
    if patient is not None and rtype != "Patient":
        body["subject" if rtype != "AllergyIntolerance" else "patient"] = {
            "reference": f"Patient/{patient}"
        }
    if labels:
        body["meta"] = {"security": [{"system": s, "code": c} for s, c in labels]}
    return body


def obs(patient: str | None = "p1", *labels: tuple[str, str], **extra: Any) -> dict[str, Any]:
    fields: dict[str, Any] = {"status": "final", "code": {"text": "pulse"}, **extra}
    return resource("Observation", patient, *labels, **fields)


# --- modes --------------------------------------------------------------------------------------


def test_modes_follow_expiry_then_the_read_only_grace() -> None:
    policy = OfflinePolicy(claims())
    exp = NOW + 8 * HOUR
    assert policy.mode(NOW) is Mode.NORMAL
    assert policy.mode(exp - 0.001) is Mode.NORMAL
    assert policy.mode(exp) is Mode.READ_ONLY
    assert policy.mode(exp + 2 * HOUR - 1) is Mode.READ_ONLY
    assert policy.mode(exp + 2 * HOUR) is Mode.LOCKED
    assert policy.mode(NOW - 3600) is Mode.LOCKED  # a clock wound back before nbf
    assert policy.mode(NOW - 30) is Mode.NORMAL  # within the verifier's minute of skew
    assert str(Mode.READ_ONLY) == "read-only"


def test_read_only_mode_reads_but_refuses_to_record_and_locked_refuses_both() -> None:
    policy = OfflinePolicy(
        claims(patients=[{"id": "p2", "basis": "location", "source": "E/1", "until": None}])
    )
    later = NOW + 8 * HOUR + 60
    assert policy.refuse_read(obs("p2"), "p2", later) is None
    assert policy.refuse_write("create", obs("p2"), "p2", later) == (
        "This device's offline access has expired, so you can read but not record until it "
        "reconnects."
    )
    locked = NOW + 10 * HOUR
    assert "Sign in online" in (policy.refuse_read(obs("p2"), "p2", locked) or "")
    assert "Sign in online" in (policy.refuse_write("create", obs("p2"), "p2", locked) or "")


def test_settings_come_from_the_offline_claim() -> None:
    policy = OfflinePolicy(claims())
    assert policy.settings.grace_seconds == 2 * HOUR
    assert policy.settings.clinical_grace_seconds == RULES.offline.clinical_grace_seconds
    assert policy.settings.snapshot_seconds == 8 * HOUR


@pytest.mark.parametrize(
    "broken",
    [
        {"exp": "tomorrow"},
        {"confined": None, "exp": None},
        {"patients": [{"basis": "care-team"}]},
        {"patients": [{"id": "p", "basis": "consent", "until": None, "types": "Observation"}]},
        {"offline": {"grace_seconds": -1}},
        {"sensitive_labels": [7]},
    ],
)
def test_malformed_claims_are_refused_with_a_sentence(broken: dict[str, Any]) -> None:
    with pytest.raises(DeviceError, match="cannot be read"):
        OfflinePolicy(claims(**broken))


# --- reach and working set ----------------------------------------------------------------------


def test_each_entry_ends_at_its_own_until() -> None:
    policy = OfflinePolicy(claims())
    assert policy.reachable(NOW) == {
        "p1": ["care-team"],
        "p2": ["location"],
        "p5": ["consent"],
        "p9": ["break-glass"],
    }
    assert set(policy.reachable(NOW + 1800)) == {"p1", "p2", "p5"}  # break-glass ended
    assert set(policy.reachable(NOW + HOUR)) == {"p2", "p5"}
    assert set(policy.reachable(NOW + 2 * HOUR)) == {"p2"}
    assert not policy.reaches("p9", NOW + 1800) and policy.reaches("p9", NOW + 1799)


def test_the_working_set_is_automatic_bases_plus_pins_still_reachable() -> None:
    policy = OfflinePolicy(claims())
    assert policy.working_set(NOW) == {"p1", "p2"}
    assert policy.working_set(NOW, ["p5", "p9", "p-stranger"]) == {"p1", "p2", "p5", "p9"}
    assert policy.working_set(NOW + 2 * HOUR, ["p5", "p9"]) == {"p2"}


def test_bases_of_one_patient_are_merged_and_sorted() -> None:
    entries = [
        {"id": "p1", "basis": "location", "source": "Encounter/e", "until": None},
        {"id": "p1", "basis": "care-team", "source": "CareTeam/c", "until": None},
    ]
    assert OfflinePolicy(claims(patients=entries)).reachable(NOW) == {
        "p1": ["care-team", "location"]
    }


def test_an_unconfined_caller_reaches_everyone_but_keeps_only_its_pins() -> None:
    policy = OfflinePolicy(claims(confined=False, patients=[], refusals=[], pins=["p7"]))
    assert policy.unlimited
    assert policy.reaches("anyone", NOW)
    assert policy.reachable(NOW) == {"p7": [UNCONFINED]}
    assert policy.working_set(NOW) == set()
    assert policy.working_set(NOW, policy.pins) == {"p7"}
    assert policy.refuse_read(obs("anyone"), "anyone", NOW) is None


def test_a_launch_patient_limits_everything_to_that_patient() -> None:
    confined = OfflinePolicy(claims(patient="p2"))
    assert confined.reachable(NOW) == {"p2": ["location"]}
    assert confined.refuse_read(obs("p1"), "p1", NOW) is not None
    unconfined = OfflinePolicy(claims(confined=False, patients=[], patient="p3"))
    assert not unconfined.unlimited
    assert unconfined.reachable(NOW) == {"p3": [LAUNCH]}
    assert unconfined.working_set(NOW) == {"p3"}
    assert unconfined.refuse_read(obs("p3"), "p3", NOW) is None
    assert unconfined.refuse_read(obs("p4"), "p4", NOW) is not None
    nobody = OfflinePolicy(claims(patient=""))
    assert nobody.reachable(NOW) == {} and not nobody.reaches("p2", NOW)


def test_purpose_is_btg_while_the_break_glass_rule_lasts() -> None:
    policy = OfflinePolicy(claims())
    assert policy.purpose("p9", NOW) == "BTG"
    assert policy.purpose("p9", NOW + 1800) is None
    assert policy.purpose("p1", NOW) is None


# --- reads ----------------------------------------------------------------------------------------


def test_care_team_sees_the_record_less_sensitive_data_and_refusals() -> None:
    policy = OfflinePolicy(claims())
    assert policy.refuse_read(obs("p1"), "p1", NOW) is None
    assert policy.refuse_read(obs("p1", NORMAL_LABEL), "p1", NOW) is None
    assert policy.refuse_read(obs("p1", HIV), "p1", NOW) == (
        "You cannot open this record on this device: it is not shared with you."
    )
    assert policy.refuse_read(resource("Condition", "p1"), "p1", NOW) is not None  # refused
    assert policy.refuse_read(resource("Condition", "p2"), "p2", NOW) is None


def test_a_refusal_with_labels_withholds_only_those_and_ends_at_its_until() -> None:
    refusals = [
        {
            "id": "p2",
            "source": "Consent/c",
            "until": NOW + 60,
            "types": None,
            "labels": [f"{CONF}|N"],
        }
    ]
    policy = OfflinePolicy(claims(refusals=refusals))
    assert policy.refuse_read(obs("p2", NORMAL_LABEL), "p2", NOW) is not None
    assert policy.refuse_read(obs("p2"), "p2", NOW) is None
    assert policy.refuse_read(obs("p2", NORMAL_LABEL), "p2", NOW + 60) is None


def test_break_glass_shows_the_whole_record_despite_refusals_and_labels() -> None:
    policy = OfflinePolicy(claims())
    assert policy.refuse_read(obs("p9", HIV, R), "p9", NOW) is None
    assert policy.refuse_read(resource("Condition", "p9"), "p9", NOW) is None
    assert policy.refuse_read(obs("p9"), "p9", NOW + 1800) == (
        "You cannot open this record on this device: the patient is not among your patients."
    )


def test_a_consent_share_shows_only_the_types_and_labels_it_shares() -> None:
    policy = OfflinePolicy(claims())
    assert policy.refuse_read(obs("p5", HIV), "p5", NOW) is None  # named sensitive label
    assert policy.refuse_read(obs("p5"), "p5", NOW) is not None  # must carry a shared label
    assert policy.refuse_read(obs("p5", HIV, PSY), "p5", NOW) is not None  # labels_not
    assert policy.refuse_read(obs("p5", HIV, R), "p5", NOW) is not None  # R not named
    assert policy.refuse_read(resource("Procedure", "p5", HIV), "p5", NOW) is not None


def test_a_share_without_labels_still_hides_sensitive_data() -> None:
    share = {
        "id": "p6",
        "basis": "consent",
        "source": "Consent/c",
        "until": None,
        "types": None,
        "labels": None,
        "labels_not": [],
    }
    policy = OfflinePolicy(claims(patients=[share], refusals=[]))
    assert policy.refuse_read(resource("Procedure", "p6"), "p6", NOW) is None
    assert policy.refuse_read(obs("p6", R), "p6", NOW) is not None


def test_letters_patients_and_compartments_are_checked() -> None:
    policy = OfflinePolicy(claims())
    audit = {"resourceType": "AuditEvent", "id": "a"}
    assert policy.refuse_read(audit, "p1", NOW) == (
        "You cannot open AuditEvent records on this device: you are not allowed to read them."
    )
    assert policy.refuse_read(obs("p-stranger"), "p-stranger", NOW) is not None
    assert policy.refuse_read(obs(None), None, NOW) == (
        "You cannot open this record on this device: it does not belong to one of your patients."
    )
    device = {"resourceType": "Device", "id": "d"}
    assert "not part of a patient's record" in (policy.refuse_read(device, "p1", NOW) or "")
    # a Task is in the record of the patient it is for (ADR 0018)
    task = {"resourceType": "Task", "id": "t", "status": "ready", "intent": "order",
            "for": {"reference": "Patient/p1"}}  # fmt: skip
    assert policy.refuse_read(task, "p1", NOW) is None
    assert policy.refuse_read(task, "p-stranger", NOW) is not None
    practitioner = {"resourceType": "Practitioner", "id": "doc"}
    assert policy.refuse_read(practitioner, None, NOW) is None  # shared reference data
    assert policy.refuse_read({"resourceType": "Nonsense"}, "p1", NOW) is not None


# --- granular-scope filters ----------------------------------------------------------------------


def category(code: str, system: str = CATEGORY) -> list[dict[str, Any]]:
    return [{"coding": [{"system": system, "code": code}]}]


def test_filters_allow_only_matching_resources() -> None:
    filters = {
        "Observation": [f"category={CATEGORY}|vital-signs", "category=laboratory&status=final"]
    }
    policy = OfflinePolicy(claims(filters=filters))
    assert policy.refuse_read(obs("p1", category=category("vital-signs")), "p1", NOW) is None
    assert policy.refuse_read(obs("p1", category=category("laboratory")), "p1", NOW) is None
    lab_other_system = obs("p1", category=category("vital-signs", "http://other"))
    assert policy.refuse_read(lab_other_system, "p1", NOW) == (
        "You cannot open this record on this device: your sign-in covers only some "
        "Observation data, and not this."
    )
    preliminary = obs("p1", category=category("laboratory"))
    preliminary["status"] = "preliminary"
    assert policy.refuse_read(preliminary, "p1", NOW) is not None
    assert policy.refuse_read(obs("p1"), "p1", NOW) is not None
    assert policy.refuse_write("create", obs("p1"), "p1", NOW) is not None
    assert (
        policy.refuse_write("create", obs("p1", category=category("laboratory")), "p1", NOW) is None
    )


def test_a_filter_the_device_cannot_evaluate_refuses() -> None:
    for query in ("date=ge2020-01-01", "code:not=x", "nonsense=1", "_count=1", ""):
        policy = OfflinePolicy(claims(filters={"Observation": [query]}))
        vital = obs("p1", category=category("vital-signs"), effectiveDateTime="2024-01-01")
        assert policy.refuse_read(vital, "p1", NOW) is not None, query


def test_wildcard_filters_apply_to_types_without_their_own_letters() -> None:
    policy = OfflinePolicy(claims(filters={"*": ["status=final"]}))
    assert policy.refuse_read(resource("Procedure", "p2", status="final"), "p2", NOW) is None
    assert policy.refuse_read(resource("Procedure", "p2", status="done"), "p2", NOW) is not None
    # Observation has its own letters and no filter of its own
    assert policy.refuse_read(obs("p2", status="amended"), "p2", NOW) is None


# --- writes ---------------------------------------------------------------------------------------


def test_writes_need_the_letter_for_the_action() -> None:
    policy = OfflinePolicy(claims())
    order = resource("MedicationRequest", "p1")
    assert policy.refuse_write("create", order, "p1", NOW) == (
        "You cannot record MedicationRequest on this device: you are not allowed to create "
        "MedicationRequest."
    )
    assert policy.refuse_write("create", obs("p1"), "p1", NOW) is None
    assert policy.refuse_write("correct", obs("p1"), "p1", NOW) is None
    no_update = OfflinePolicy(claims(permissions={"*": "rs", "Observation": "crs"}))
    assert "not allowed to correct" in (
        no_update.refuse_write("correct", obs("p1"), "p1", NOW) or ""
    )
    assert policy.refuse_write("delete", obs("p1"), "p1", NOW) is not None


def test_writes_go_only_where_the_basis_allows_them() -> None:
    policy = OfflinePolicy(claims(permissions={"*": "crus"}))
    assert policy.refuse_write("create", obs("p2"), "p2", NOW) is None
    assert policy.refuse_write("create", obs("p9", HIV), "p9", NOW) is None  # break-glass
    assert policy.refuse_write("create", obs("p5", HIV), "p5", NOW) == (
        "You cannot record Observation for this patient on this device: their record is only "
        "shared with you to read."
    )
    assert policy.refuse_write("create", obs("p1", R), "p1", NOW) == (
        "You cannot record Observation for this patient on this device: your access does not "
        "cover this kind of data."
    )
    assert policy.refuse_write("create", resource("Condition", "p1"), "p1", NOW) is not None
    assert policy.refuse_write("create", obs("p7"), "p7", NOW) == (
        "You cannot record Observation for this patient on this device: they are not among "
        "your patients."
    )
    assert policy.refuse_write("create", obs(None), None, NOW) is not None
    location = {"resourceType": "Location", "id": "w1"}
    assert "reference data" in (policy.refuse_write("update", location, None, NOW) or "")


def test_refusal_sentences_never_name_a_patient_or_a_label() -> None:
    policy = OfflinePolicy(claims(permissions={"*": "rs"}))
    cases = [
        policy.refuse_read(obs("p1", HIV), "p1", NOW),
        policy.refuse_read(obs("p7"), "p7", NOW),
        policy.refuse_write("create", obs("p7"), "p7", NOW),
        policy.refuse_write("create", obs("p5", HIV), "p5", NOW),
        policy.refuse_write("update", obs("p2"), "p2", NOW + 9 * HOUR),
        policy.refuse_read(obs("p2"), "p2", NOW + 11 * HOUR),
    ]
    for sentence in cases:
        assert sentence and sentence.endswith(".")
        assert not any(secret in sentence for secret in ("p1", "p5", "p7", "HIV", "CareTeam"))


# --- the real signing path, and parity with the server --------------------------------------------


SINGLE_RESULT = Share(
    "p7", "Consent/c7", frozenset({"Observation"}), ids=frozenset({"Observation/r36"})
)


def doctor_view(now: float) -> AccessView:
    return AccessView(
        "doctor",
        True,
        RULES.role("doctor").permissions,
        relations=(
            PatientAccess("p1", "care-team", "CareTeam/ct1", now + 7200),
            PatientAccess("p2", "location", "Encounter/e1"),
            PatientAccess("p3", "assignment", "assignment"),
        ),
        glass=(PatientAccess("p9", "break-glass", "break-glass/bg-1", now + 1800),),
        shares=(
            Share(
                "p5",
                "Consent/c1",
                frozenset({"Observation", "Condition"}),
                frozenset({HIV}),
                frozenset({PSY}),
                now + 3600,
            ),
            Share("p6", "Consent/c4", None, None, frozenset({NORMAL_LABEL})),
            Share("p3", "Consent/c5", frozenset({"Observation"}), frozenset({R})),
            # one result of p7 (provision.data): r36 is its unlabelled Observation in grid();
            # its other Observations and r78 (a Condition) are not named
            SINGLE_RESULT,
        ),
        refusals=(
            Refusal("p1", "Consent/c2", frozenset({"MedicationRequest"})),
            Refusal("p2", "Consent/c3", None, frozenset({NORMAL_LABEL})),
            Refusal("p9", "Consent/c6"),
        ),
        sensitive=RULES.sensitive,
        now=now,
    )


def test_a_signed_snapshot_round_trips_into_the_same_decisions(tmp_path: Path) -> None:
    keys = load_or_create(tmp_path / "keys")  # generated now, for this test only
    caller = Caller(
        "user-9",
        ScopeSet.parse("user/*.cruds"),
        client_id="tab",
        fhir_user="Practitioner/9",
        role="doctor",
        device="dev-1",
    )
    made = snapshot(doctor_view(NOW), caller, issuer=ISSUER, rules=RULES, now=NOW, pins=["p5"])
    token = sign_snapshot(made, keys)
    policy = OfflinePolicy(verify_snapshot(token, keys.public_jwks(), now=NOW + 1, issuer=ISSUER))
    assert policy.pins == {"p5"}
    assert policy.working_set(NOW, policy.pins) == {"p1", "p2", "p3", "p5"}
    assert policy.refuse_read(obs("p5", HIV), "p5", NOW) is None
    assert policy.refuse_write("create", obs("p5", HIV), "p5", NOW) is not None
    assert policy.refuse_write("create", resource("MedicationRequest", "p2"), "p2", NOW) is None
    assert policy.refuse_read(resource("MedicationRequest", "p1"), "p1", NOW) is not None
    assert policy.purpose("p9", NOW) == "BTG"
    assert policy.mode(NOW + RULES.snapshot_seconds) is Mode.READ_ONLY


@pytest.fixture
def server_store(tmp_path: Path) -> Iterator[Store]:
    store = open_store(f"sqlite:///{tmp_path / 'server.db'}")
    yield store
    store.close()


LABEL_SETS: list[tuple[tuple[str, str], ...]] = [
    (),
    (HIV,),
    (PSY,),
    (R,),
    (NORMAL_LABEL,),
    (HIV, PSY),
]
TYPES = ("Observation", "Condition", "MedicationRequest", "Procedure")
PATIENTS = ("p1", "p2", "p3", "p5", "p6", "p9", "p7")


def grid() -> list[tuple[dict[str, Any], str]]:
    out = []
    for n, (rtype, patient, labels) in enumerate(itertools.product(TYPES, PATIENTS, LABEL_SETS)):
        body = resource(rtype, patient, *labels)
        body["id"] = f"r{n}"
        body.update(
            {
                "Observation": {
                    "status": "final",
                    "code": {"text": "x"},
                    "category": category("vital-signs" if n % 2 else "laboratory"),
                },
                "Condition": {},
                "MedicationRequest": {
                    "status": "active",
                    "intent": "order",
                    "medicationCodeableConcept": {"text": "x"},
                },
                "Procedure": {"status": "completed"},
            }[rtype]
        )
        out.append((body, patient))
    return out


def _doctor(scope: str, **extra: Any) -> tuple[Caller, AccessView]:
    caller = Caller(
        "user-9", ScopeSet.parse(scope), client_id="tab", fhir_user="Practitioner/9",
        role="doctor", **extra,
    )  # fmt: skip
    return caller, doctor_view(NOW)


def _patient_user() -> tuple[Caller, AccessView]:
    caller = Caller(
        "u-p1", ScopeSet.parse("patient/*.rs"), fhir_user="Patient/p1", role="patient",
        patient="p1",
    )  # fmt: skip
    own = (PatientAccess("p1", "self", "self"),)
    return caller, AccessView("patient", True, RULES.role("patient").permissions, glass=own)


def _service(scope: str, **extra: Any) -> tuple[Caller, AccessView]:
    caller = Caller("feed", ScopeSet.parse(scope), client_id="feed", **extra)
    return caller, AccessView(None, False, {"*": frozenset("cruds")}, now=NOW)


WHO = {
    "doctor": lambda: _doctor("user/*.cruds"),
    "doctor-granular": lambda: _doctor(
        f"user/Observation.rs?category={CATEGORY}|vital-signs user/Condition.rs"
    ),
    "doctor-launch": lambda: _doctor("patient/*.rs", patient="p2"),
    "patient": _patient_user,
    "service": lambda: _service("system/Observation.rs system/Procedure.rs"),
    "service-launch": lambda: _service("patient/*.rs", patient="p3"),
}


@pytest.mark.parametrize("who", sorted(WHO))
def test_offline_reads_match_the_server_resource_by_resource(server_store: Store, who: str) -> None:
    from tests.conftest import BASE, OPERATOR

    operator = Repository(
        server_store, OPERATOR, BASE, policy=Policy(consents=shares_for), auditor=NullAuditor()
    )
    resources = grid()
    for body, _ in resources:
        answer = operator.handle(
            FhirRequest("PUT", f"{body['resourceType']}/{body['id']}", body=body)
        )
        assert answer.status in (200, 201)
    caller, view = WHO[who]()
    access = Access(caller, view)
    policy = OfflinePolicy(snapshot(view, caller, issuer=ISSUER, rules=RULES, now=NOW))
    differences = []
    with server_store.read() as session:
        for body, patient in resources:
            rtype = body["resourceType"]
            visible = session.current(rtype, body["id"], visible=access.rows(rtype, "read"))
            server = visible is not None
            device = policy.refuse_read(body, patient, NOW) is None
            if server != device:
                differences.append((rtype, patient, body.get("meta"), server))
    assert differences == []
    assert any(policy.refuse_read(b, p, NOW) is None for b, p in resources)
    assert any(policy.refuse_read(b, p, NOW) is not None for b, p in resources)


def test_a_share_of_one_result_shows_that_resource_and_nothing_else_offline() -> None:
    caller, view = _doctor("user/*.cruds")
    policy = OfflinePolicy(snapshot(view, caller, issuer=ISSUER, rules=RULES, now=NOW))
    (entry,) = [e for e in policy.claims["patients"] if e["id"] == "p7"]
    assert entry["resources"] == ["Observation/r36"]
    assert policy.claims["bedside_policy_version"] == 2  # a version-1 device refuses it
    plain = AccessView(view.role, True, view.permissions, shares=(view.shares[0],), now=NOW)
    assert (
        snapshot(plain, caller, issuer=ISSUER, rules=RULES, now=NOW)["bedside_policy_version"] == 1
    )
    shared = {**obs("p7"), "id": "r36"}
    assert policy.refuse_read(shared, "p7", NOW) is None
    assert policy.refuse_read({**shared, "id": "r37"}, "p7", NOW) is not None
    assert policy.refuse_write("update", shared, "p7", NOW) is not None  # a share is to read
    nothing = {**entry, "resources": []}
    empty = OfflinePolicy(claims(patients=[nothing]))
    assert empty.refuse_read({**obs("p7"), "id": "r36"}, "p7", NOW) is not None
