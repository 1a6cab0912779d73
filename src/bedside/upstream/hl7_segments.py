"""HL7 v2 segments → FHIR R4 resources, after the HL7 v2-to-FHIR IG's segment maps
(ConceptMap segment-pid-to-patient, -pv1-to-encounter, -obr-to-diagnosticreport,
-obx-to-observation, -nk1-to-relatedperson, -al1-to-allergyintolerance, -dg1-to-condition);
the code tables they use are in :mod:`bedside.upstream.hl7_vocabulary`.

Only the fields Bedside shows or matches on are mapped; each function says which. Ids are
deterministic (:mod:`bedside.upstream.identity`) from the source's own keys: the visit number
for an Encounter, the order number and OBX set id for a result.
"""

from __future__ import annotations

import re
from typing import Any, Final

from bedside.upstream.config import Hl7Source
from bedside.upstream.hl7_message import MessageError, Segment
from bedside.upstream.hl7_vocabulary import (
    ACT_CODE,
    ALLERGY_CATEGORY,
    CLASS,
    INTERPRETATION,
    INTERPRETATIONS,
    NAME_USE,
    REPORT_STATUS,
    RESULT_STATUS,
    SEVERITY,
    SEX,
    V2,
    concept,
    fhir_datetime,
)
from bedside.upstream.identity import record_id
from bedside.upstream.terminology import UCUM, Terminology

__all__ = [
    "allergy",
    "condition",
    "encounter",
    "observation",
    "patient",
    "patient_identifiers",
    "related_person",
    "report",
]

_RANGE: Final = re.compile(r"\s*(-?\d+(?:\.\d+)?)\s*-\s*(-?\d+(?:\.\d+)?)\s*")
_NUMBER: Final = re.compile(r"-?\d+(?:\.\d+)?")


def patient_identifiers(pid: Segment, source: Hl7Source) -> list[dict[str, Any]]:
    """PID-3 (CX): value, assigning authority (CX-4) → system, type (CX-5, table 0203)."""
    out = []
    for rep in pid.repetitions(3):
        if not rep.get(1):
            continue
        ident: dict[str, Any] = {
            "system": source.identifier_system(rep.get(4, "")),
            "value": rep[1],
        }
        if rep.get(5):
            ident["type"] = {"coding": [{"system": V2 + "0203", "code": rep[5]}]}
        out.append(ident)
    if not out:
        raise MessageError("PID-3 (patient identifier list) has no identifier.")
    mr = [i for i in out if i.get("type", {}).get("coding", [{}])[0].get("code") == "MR"]
    return mr + [i for i in out if i not in mr]


def patient(pid: Segment, source: Hl7Source, rid: str) -> dict[str, Any]:
    """PID-3 identifier, -5 name, -7 birth date, -8 sex, -11 address, -13 phone, -29/-30 death."""
    body: dict[str, Any] = {
        "resourceType": "Patient",
        "id": rid,
        "identifier": patient_identifiers(pid, source),
        "active": True,
    }
    names = []
    for rep in pid.repetitions(5):
        name: dict[str, Any] = {}
        if rep.get(1):
            name["family"] = rep[1]
        given = [rep[i] for i in (2, 3) if rep.get(i)]
        if given:
            name["given"] = given
        if rep.get(4):
            name["suffix"] = [rep[4]]
        if rep.get(5):
            name["prefix"] = [rep[5]]
        if rep.get(7) in NAME_USE:
            name["use"] = NAME_USE[rep[7]]
        if name:
            names.append(name)
    if names:
        body["name"] = names
    birth = fhir_datetime(pid.get(7)[:8])
    if birth:
        body["birthDate"] = birth
    if pid.get(8) in SEX:
        body["gender"] = SEX[pid.get(8)]
    addresses = []
    for rep in pid.repetitions(11):
        addr: dict[str, Any] = {}
        lines = [rep[i] for i in (1, 2) if rep.get(i)]
        if lines:
            addr["line"] = lines
        for pos, key in ((3, "city"), (4, "state"), (5, "postalCode"), (6, "country")):
            if rep.get(pos):
                addr[key] = rep[pos]
        if addr:
            addresses.append(addr)
    if addresses:
        body["address"] = addresses
    phones = [{"system": "phone", "value": rep[1]} for rep in pid.repetitions(13) if rep.get(1)]
    if phones:
        body["telecom"] = phones
    died = fhir_datetime(pid.get(29))
    if died:
        body["deceasedDateTime"] = died
    elif pid.get(30) == "Y":
        body["deceasedBoolean"] = True
    return body


def encounter(pv1: Segment, source: Hl7Source, patient_ref: str, event: str) -> dict[str, Any]:
    """PV1-19 visit number (the id: A01, A02 and A03 of one visit update one Encounter),
    -2 class, -3 location (-6 the prior one on a transfer), -44/-45 admit and discharge."""
    visit = pv1.get(19)
    if not visit:
        raise MessageError("PV1-19 (visit number) is empty, so the visit cannot be identified.")
    key = f"{pv1.get(19, 4)}|{visit}"
    body: dict[str, Any] = {
        "resourceType": "Encounter",
        "id": record_id(source.system, "Encounter", key),
        "identifier": [{"system": f"{source.system}/visit", "value": visit}],
        "subject": {"reference": patient_ref},
    }
    code, display = CLASS.get(pv1.get(2), ("AMB", "ambulatory"))
    body["class"] = {"system": ACT_CODE, "code": code, "display": display}
    start, end = fhir_datetime(pv1.get(44)), fhir_datetime(pv1.get(45))
    if event == "A11":
        status = "cancelled"
    elif event == "A13":
        status, end = "in-progress", None
    elif end or event == "A03":
        status = "finished"
    elif pv1.get(2) == "P":
        status = "planned"
    else:
        status = "in-progress"
    body["status"] = status
    period = {k: v for k, v in (("start", start), ("end", end)) if v}
    if period:
        body["period"] = period
    locations = []
    prior = _location(pv1.repetitions(6))
    if event == "A02" and prior:
        locations.append({"location": {"display": prior}, "status": "completed"})
    here = _location(pv1.repetitions(3))
    if here:
        locations.append(
            {
                "location": {"display": here},
                "status": "completed" if status == "finished" else "active",
            }
        )
    if locations:
        body["location"] = locations
    return body


def _location(reps: list[dict[int, str]]) -> str | None:
    """PL: point of care ^ room ^ bed ^ facility, shown as one line."""
    if not reps:
        return None
    parts = [reps[0].get(i, "") for i in (1, 2, 3)]
    text = " ".join(p for p in parts if p)
    return text or None


def observation(
    obx: Segment,
    obr: Segment | None,
    source: Hl7Source,
    terms: Terminology,
    patient_ref: str,
    encounter_ref: str | None,
) -> dict[str, Any]:
    """OBX-3 code (then the ConceptMap), -2/-5 value, -6 units (UCUM), -7 range, -8
    interpretation, -11 status, -14 time; the id from the order (OBR-3, else OBR-2) and OBX-1."""
    code = concept(obx.repetitions(3)[0] if obx.repetitions(3) else {}, source, terms)
    if code is None:
        raise MessageError("An OBX segment has no observation identifier (OBX-3).")
    order = (obr.get(3) or obr.get(2)) if obr else ""
    key = f"{order}|{obx.get(1)}|{obx.get(3)}|{obx.get(4)}"
    body: dict[str, Any] = {
        "resourceType": "Observation",
        "id": record_id(source.system, "Observation", key),
        "status": RESULT_STATUS.get(obx.get(11), "final"),
        "category": [
            {
                "coding": [
                    {
                        "system": "http://terminology.hl7.org/CodeSystem/observation-category",
                        "code": "laboratory",
                    }
                ]
            }
        ],
        "code": code,
        "subject": {"reference": patient_ref},
    }
    if order:
        body["identifier"] = [{"system": f"{source.system}/result", "value": key}]
    if encounter_ref:
        body["encounter"] = {"reference": encounter_ref}
    _value(body, obx, source, terms)
    ref_range = obx.get(7)
    if ref_range:
        m = _RANGE.fullmatch(ref_range)
        unit = body.get("valueQuantity", {})
        if m and unit:
            q = {k: v for k, v in unit.items() if k != "value"}
            body["referenceRange"] = [
                {
                    "low": {**q, "value": float(m.group(1))},
                    "high": {**q, "value": float(m.group(2))},
                }
            ]
        else:
            body["referenceRange"] = [{"text": ref_range}]
    flag = obx.get(8)
    if flag in INTERPRETATIONS:
        body["interpretation"] = [{"coding": [{"system": INTERPRETATION, "code": flag}]}]
    when = fhir_datetime(obx.get(14)) or (fhir_datetime(obr.get(7)) if obr else None)
    if when:
        body["effectiveDateTime"] = when
    return body


def _value(body: dict[str, Any], obx: Segment, source: Hl7Source, terms: Terminology) -> None:
    kind, raw = obx.get(2), obx.get(5)
    if not raw:
        return
    if kind in ("NM", "SN"):
        number = raw if kind == "NM" else obx.get(5, 2)
        if not _NUMBER.fullmatch(number.strip()):
            raise MessageError(f"OBX-5 of a numeric result (OBX-2 {kind}) is not a number.")
        quantity: dict[str, Any] = {"value": float(number)}
        unit_code, unit_text, unit_system = obx.get(6, 1), obx.get(6, 2), obx.get(6, 3)
        if unit_code or unit_text:
            quantity["unit"] = unit_text or unit_code
            ucum = terms.ucum(unit_code, unit_system)
            if ucum:
                quantity["system"] = UCUM
                quantity["code"] = ucum
        body["valueQuantity"] = quantity
    elif kind in ("CE", "CWE"):
        value = concept(obx.repetitions(5)[0], source, terms)
        if value:
            body["valueCodeableConcept"] = value
    elif kind in ("DT", "TS", "DTM"):
        when = fhir_datetime(raw)
        if when is None:
            raise MessageError(f"OBX-5 of a date result (OBX-2 {kind}) is not a date.")
        body["valueDateTime"] = when
    else:
        body["valueString"] = raw


def report(
    obr: Segment, source: Hl7Source, terms: Terminology, patient_ref: str, results: list[str]
) -> dict[str, Any]:
    """OBR-4 code, -25 status, -7 time, -22 issued; id from OBR-3 (filler) else OBR-2."""
    order = obr.get(3) or obr.get(2)
    if not order:
        raise MessageError("OBR has neither a filler (OBR-3) nor a placer order number (OBR-2).")
    code = concept(obr.repetitions(4)[0] if obr.repetitions(4) else {}, source, terms)
    if code is None:
        raise MessageError("OBR-4 (universal service identifier) is empty.")
    body: dict[str, Any] = {
        "resourceType": "DiagnosticReport",
        "id": record_id(source.system, "DiagnosticReport", order),
        "identifier": [{"system": f"{source.system}/order", "value": order}],
        "status": REPORT_STATUS.get(obr.get(25), "final"),
        "code": code,
        "subject": {"reference": patient_ref},
        "result": [{"reference": r} for r in results],
    }
    when, issued = fhir_datetime(obr.get(7)), fhir_datetime(obr.get(22))
    if when:
        body["effectiveDateTime"] = when
    if issued and "T" in issued:
        body["issued"] = issued
    return body


def related_person(nk1: Segment, source: Hl7Source, patient_ref: str) -> dict[str, Any]:
    """NK1-2 name, -3 relationship (table 0063), -5 phone; id from the patient and NK1-1."""
    body: dict[str, Any] = {
        "resourceType": "RelatedPerson",
        "id": record_id(
            source.system, "RelatedPerson", f"{patient_ref}|{nk1.get(1) or nk1.get(2)}"
        ),
        "patient": {"reference": patient_ref},
    }
    if nk1.get(2, 1) or nk1.get(2, 2):
        name: dict[str, Any] = {}
        if nk1.get(2, 1):
            name["family"] = nk1.get(2, 1)
        if nk1.get(2, 2):
            name["given"] = [nk1.get(2, 2)]
        body["name"] = [name]
    rel = nk1.repetitions(3)
    if rel:
        relationship = concept(rel[0], source)
        if relationship:
            body["relationship"] = [relationship]
    if nk1.get(5):
        body["telecom"] = [{"system": "phone", "value": nk1.get(5)}]
    return body


def allergy(al1: Segment, source: Hl7Source, patient_ref: str) -> dict[str, Any]:
    """AL1-2 category, -3 allergen, -4 severity, -5 reaction, -6 identification date."""
    allergen = concept(al1.repetitions(3)[0] if al1.repetitions(3) else {}, source)
    if allergen is None:
        raise MessageError("AL1-3 (allergen) is empty.")
    key = f"{patient_ref}|{al1.get(3) or al1.get(1)}"
    body: dict[str, Any] = {
        "resourceType": "AllergyIntolerance",
        "id": record_id(source.system, "AllergyIntolerance", key),
        "clinicalStatus": {
            "coding": [
                {
                    "system": "http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical",
                    "code": "active",
                }
            ]
        },
        "code": allergen,
        "patient": {"reference": patient_ref},
    }
    if al1.get(2) in ALLERGY_CATEGORY:
        body["category"] = [ALLERGY_CATEGORY[al1.get(2)]]
    reaction = [r[1] for r in al1.repetitions(5) if r.get(1)]
    if reaction:
        entry: dict[str, Any] = {"manifestation": [{"text": t} for t in reaction]}
        if al1.get(4) in SEVERITY:
            entry["severity"] = SEVERITY[al1.get(4)]
        body["reaction"] = [entry]
    recorded = fhir_datetime(al1.get(6))
    if recorded:
        body["recordedDate"] = recorded
    return body


def condition(
    dg1: Segment, source: Hl7Source, patient_ref: str, encounter_ref: str | None
) -> dict[str, Any]:
    """DG1-3 diagnosis code, -5 time, -6 type; an encounter diagnosis of the visit."""
    code = concept(dg1.repetitions(3)[0] if dg1.repetitions(3) else {}, source)
    if code is None:
        raise MessageError("DG1-3 (diagnosis code) is empty.")
    key = f"{encounter_ref or patient_ref}|{dg1.get(1)}|{dg1.get(3)}"
    body: dict[str, Any] = {
        "resourceType": "Condition",
        "id": record_id(source.system, "Condition", key),
        "clinicalStatus": {
            "coding": [
                {
                    "system": "http://terminology.hl7.org/CodeSystem/condition-clinical",
                    "code": "active",
                }
            ]
        },
        "category": [
            {
                "coding": [
                    {
                        "system": "http://terminology.hl7.org/CodeSystem/condition-category",
                        "code": "encounter-diagnosis",
                    }
                ]
            }
        ],
        "code": code,
        "subject": {"reference": patient_ref},
    }
    if encounter_ref:
        body["encounter"] = {"reference": encounter_ref}
    when = fhir_datetime(dg1.get(5))
    if when:
        body["recordedDate"] = when
    return body
