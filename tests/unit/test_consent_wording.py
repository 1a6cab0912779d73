"""A privacy Consent in plain words for the patient (bedside.consent.wording)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from bedside.consent.wording import describe, type_words

TYPES = "http://hl7.org/fhir/resource-types"
ACT_CODE = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
REASON = "http://terminology.hl7.org/CodeSystem/v3-ActReason"
NOW = datetime(2026, 6, 1, 12, tzinfo=UTC).timestamp()
NAMES = {"Practitioner/9": "Dr A. Clinician"}


def actors(*refs: str) -> list[dict[str, Any]]:
    return [{"role": {"text": "recipient"}, "reference": {"reference": r}} for r in refs]


def consent(kind: str = "permit", status: str = "active", **prov: Any) -> dict[str, Any]:
    return {
        "resourceType": "Consent",
        "id": "c1",
        "status": status,
        "patient": {"reference": "Patient/p1"},
        "provision": {"type": kind, **prov},
    }


def words(c: dict[str, Any], now: float = NOW) -> dict[str, Any]:
    return describe(c, names=NAMES, now=now)


def test_a_consent_reads_as_one_sentence() -> None:
    c = consent(
        actor=actors("Practitioner/9"),
        purpose=[{"system": REASON, "code": "TREAT"}],
        period={"start": "2026-01-01", "end": "2026-12-21"},
        **{
            "class": [
                {"system": TYPES, "code": "Condition"},
                {"system": TYPES, "code": "Immunization"},
            ]
        },
    )
    assert words(c) == {
        "id": "c1",
        "status": "active",
        "state": "Active",
        "who": "Dr A. Clinician",
        "what": "your conditions and vaccinations",
        "why": "for your treatment",
        "until": "until 21 December 2026",
        "sentence": "Dr A. Clinician may see your conditions and vaccinations for your treatment,"
        " until 21 December 2026.",
    }


def test_unnamed_actors_are_named_by_type_and_id() -> None:
    c = consent(actor=actors("Practitioner/7", "CareTeam/4"))
    assert words(c)["who"] == "Care team 4 and Practitioner 7"


def test_no_actor_means_everyone_and_no_class_means_all_records() -> None:
    w = words(consent())
    assert (w["who"], w["what"], w["why"], w["until"]) == (
        "everyone",
        "all your records",
        None,
        "no end date",
    )
    assert w["sentence"] == "Everyone may see all your records, no end date."


def test_sensitive_labels_are_named_in_words() -> None:
    c = consent(securityLabel=[{"system": ACT_CODE, "code": "SEX"}])
    assert words(c)["what"] == "your sexual-health information"
    c["provision"]["class"] = [{"system": TYPES, "code": "Observation"}]
    assert "marked as sexual-health information" in words(c)["what"]


def test_nested_denies_read_as_exceptions() -> None:
    c = consent(
        provision=[{"type": "deny", "securityLabel": [{"system": ACT_CODE, "code": "HIV"}]}]
    )
    assert words(c)["what"] == "all your records, except your HIV information"


def test_an_exception_for_particular_people_names_them() -> None:
    c = consent(
        provision=[
            {
                "type": "deny",
                "actor": actors("Practitioner/9"),
                "class": [{"system": TYPES, "code": "MedicationRequest"}],
            }
        ]
    )
    assert words(c)["what"] == (
        "all your records, except that Dr A. Clinician may not see your prescriptions"
    )


def test_a_deny_reads_as_no_one_may_see() -> None:
    c = consent("deny", provision=[{"type": "permit", "actor": actors("Practitioner/9")}])
    assert words(c)["sentence"] == (
        "No one may see all your records, except that Dr A. Clinician may see any of them,"
        " no end date."
    )
    named = consent("deny", actor=actors("Practitioner/9"))
    assert words(named)["sentence"].startswith("Dr A. Clinician may not see all your records")


@pytest.mark.parametrize(
    ("status", "state"),
    [
        ("draft", "Draft"),
        ("proposed", "Proposed"),
        ("inactive", "Withdrawn"),
        ("rejected", "Refused"),
        ("entered-in-error", "Entered in error"),
    ],
)
def test_the_state_says_whether_it_is_in_force(status: str, state: str) -> None:
    w = words(consent(status=status))
    assert w["state"] == state
    assert w["sentence"].startswith(state)


def test_an_active_consent_past_its_end_has_ended() -> None:
    w = words(consent(period={"end": "2026-03-03"}))
    assert (w["state"], w["until"]) == ("Ended", "ended on 3 March 2026")
    assert w["sentence"].startswith("Ended: everyone may see")


def test_an_active_consent_before_its_start_has_not_started() -> None:
    w = words(consent(period={"start": "2026-09-01", "end": "2027"}))
    assert w["state"] == "Not started yet"
    assert w["until"] == "from 1 September 2026, until the end of 2027"


def test_purposes_read_as_words() -> None:
    c = consent(
        purpose=[{"system": REASON, "code": "HRESCH"}, {"system": REASON, "code": "HPAYMT"}]
    )
    assert words(c)["why"] == "for research or payment"


def test_resource_types_read_as_plural_words() -> None:
    assert type_words("Observation").startswith("observations")
    assert type_words("MedicationRequest") == "prescriptions"
    assert type_words("BodyStructure") == "body structures"
    assert type_words("FamilyMemberHistory") == "family history"
    assert type_words("Substance") == "substances"
    assert type_words("Library") == "libraries"


def test_a_share_of_one_result_says_so() -> None:
    from bedside.consent.wording import describe as words

    body = {
        "resourceType": "Consent",
        "id": "c9",
        "status": "active",
        "scope": {"coding": [{"code": "patient-privacy"}]},
        "patient": {"reference": "Patient/p1"},
        "provision": {
            "type": "permit",
            "actor": [{"reference": {"reference": "Practitioner/9"}}],
            "data": [{"meaning": "instance", "reference": {"reference": "Observation/o1"}}],
        },
    }
    named = words(body, names={"Practitioner/9": "Dr Ada Clinician"}, now=0)
    assert named["what"] == "only one of your results"
    result = {"Observation/o1": "your result Glucose 5.4 mmol/L on 3 May 2026"}
    again = words(body, names={"Practitioner/9": "Dr Ada Clinician", **result}, now=0)
    assert again["sentence"].startswith(
        "Dr Ada Clinician may see only your result Glucose 5.4 mmol/L on 3 May 2026"
    )
