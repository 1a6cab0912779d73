"""The ward of the whole story (issue 19, first "Done when"), made on a real `bedside serve`.

:func:`make_ward` creates two doctors on the care team of three patients on Ward 7 (each in a
bed, as the ward round's), one more patient on nobody's team, an active MedicationRequest, a
CarePlan with two Tasks ``basedOn`` it, and a discharge summary (a preliminary
DocumentReference) waiting for sign-off, and returns their ids. :func:`provenance_devices`
reads which devices the server's Provenance for a target names.
"""

from __future__ import annotations

import base64
import time
from dataclasses import dataclass

from tests.browser.test_clinician_app_story import BEDS
from tests.integration._smart import Smart

__all__ = [
    "DISCHARGE",
    "DRUG",
    "OUTSIDE",
    "TASK_CLASH",
    "TASK_MERGE",
    "StoryWard",
    "make_ward",
    "provenance_devices",
]

DRUG = "Clarithromycin 500 mg tablets"
DISCHARGE = "Discharge summary"
TASK_MERGE = "Sit out in the chair for lunch"
TASK_CLASH = "Repeat the chest X-ray"
OUTSIDE = "Gwen Lloyd"


@dataclass(frozen=True)
class StoryWard:
    doctors: tuple[str, str]  # usernames of doctor A and doctor B
    practitioners: tuple[str, str]
    patients: dict[str, str]  # name -> id, the three on the ward
    outside: str  # a patient on no care team of theirs
    order: str  # MedicationRequest id (the first patient)
    careplan: str
    tasks: dict[str, str]  # description -> Task id (the first patient)
    discharge: str  # DocumentReference id (the first patient)


def make_ward(smart: Smart) -> StoryWard:
    stamp = int(time.time() * 1000) % 10**8
    users, practitioners = [], []
    for given, family in (("Alun", "Rees"), ("Bethan", "Ellis")):
        practitioner = smart.create(
            {"resourceType": "Practitioner", "name": [{"given": [given], "family": family}]}
        )
        users.append(f"doctor-{family.lower()}-{stamp}")
        smart.add_user(users[-1], "doctor", f"Practitioner/{practitioner}")
        practitioners.append(practitioner)
    patients: dict[str, str] = {}
    for n, bed in enumerate(BEDS):
        pid = smart.create(
            {"resourceType": "Patient", "name": [{"use": "official", "family": bed.family,
             "given": [bed.given]}], "gender": ("female", "male", "female")[n],
             "birthDate": ("1941-05-17", "1958-09-02", "1973-12-24")[n]}
        )  # fmt: skip
        patients[bed.name] = pid
        smart.create(
            {"resourceType": "CareTeam", "status": "active", "name": "Ward 7 medical team",
             "subject": {"reference": f"Patient/{pid}"},
             "participant": [{"member": {"reference": f"Practitioner/{p}"}} for p in practitioners]}
        )  # fmt: skip
        smart.create(
            {"resourceType": "Encounter", "status": "in-progress",
             "class": {"code": "IMP", "display": "inpatient encounter"},
             "subject": {"reference": f"Patient/{pid}"},
             "period": {"start": "2026-11-20T09:00:00Z"},
             "location": [{"location": {"display": "Ward 7"}, "status": "active"},
                          {"location": {"display": bed.bed}, "status": "active"}]}
        )  # fmt: skip
    given, family = OUTSIDE.split()
    outside = smart.create(
        {"resourceType": "Patient", "name": [{"use": "official", "family": family,
         "given": [given]}], "gender": "female", "birthDate": "1936-02-11"}
    )  # fmt: skip
    first = patients[BEDS[0].name]
    subject = {"reference": f"Patient/{first}"}
    order = smart.create(
        {"resourceType": "MedicationRequest", "status": "active", "intent": "order",
         "medicationCodeableConcept": {"text": DRUG}, "subject": subject,
         "dosageInstruction": [{"text": "500 mg twice a day",
                                "timing": {"repeat": {"frequency": 2, "period": 1,
                                                      "periodUnit": "d"}},
                                "route": {"text": "Oral"},
                                "doseAndRate": [{"doseQuantity": {"value": 500, "unit": "mg"}}]}]}
    )  # fmt: skip
    careplan = smart.create(
        {"resourceType": "CarePlan", "status": "active", "intent": "plan", "subject": subject,
         "title": "Pneumonia recovery plan"}
    )  # fmt: skip
    tasks: dict[str, str] = {}
    for description in (TASK_MERGE, TASK_CLASH):
        tasks[description] = smart.create(
            {"resourceType": "Task", "status": "requested", "intent": "order",
             "priority": "routine", "description": description, "for": subject,
             "basedOn": [{"reference": f"CarePlan/{careplan}"}]}
        )  # fmt: skip
    text = "Admitted with pneumonia; treated with clarithromycin. Home with GP review in 1 week."
    discharge = smart.create(
        {"resourceType": "DocumentReference", "status": "current", "docStatus": "preliminary",
         "type": {"coding": [{"system": "http://loinc.org", "code": "18842-5",
                              "display": "Discharge summary"}], "text": DISCHARGE},
         "subject": subject, "description": DISCHARGE, "date": "2026-12-03T16:00:00Z",
         "author": [{"reference": f"Practitioner/{practitioners[1]}"}],
         "content": [{"attachment": {"contentType": "text/plain",
                                     "data": base64.b64encode(text.encode()).decode()}}]}
    )  # fmt: skip
    return StoryWard(
        (users[0], users[1]),
        (practitioners[0], practitioners[1]),
        patients,
        outside,
        order,
        careplan,
        tasks,
        discharge,
    )


def provenance_devices(smart: Smart, target: str) -> list[str]:
    """The Device references named by the server's Provenances of ``target`` (one per write)."""
    found = smart.get("/Provenance", smart.operator_token, target=target, _count="100").json()
    devices = []
    for entry in found.get("entry", []):
        for agent in entry["resource"].get("agent", []):
            ref = (agent.get("who") or {}).get("reference", "")
            if ref.startswith("Device/"):
                devices.append(ref.removeprefix("Device/"))
    return devices
