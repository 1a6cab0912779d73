"""The clinical resources of one synthetic demo patient, and the FHIR datatype helpers.

:class:`ClinicalRecord` builds a patient's encounters, vital signs and laboratory results,
conditions, allergies, medications, immunizations, procedures, care team and care plan, drawing
every value from :mod:`bedside.demo.vocabulary`. :mod:`bedside.demo.generator` supplies the
patient's demographics and the shared hospital resources, and calls the builders in order.
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from bedside.demo import vocabulary as v
from bedside.demo.vocabulary import Code

__all__ = ["ANCHOR", "ClinicalRecord", "Hospital", "Resource", "cc", "clamp", "new_url", "ref"]

Resource = dict[str, Any]

ANCHOR = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)


def new_url(rng: random.Random) -> str:
    return f"urn:uuid:{uuid.UUID(int=rng.getrandbits(128), version=4)}"


def _coding(code: Code) -> Resource:
    return {"system": code.system, "code": code.code, "display": code.display}


def cc(code: Code) -> Resource:
    return {"coding": [_coding(code)], "text": code.display}


def ref(url: str) -> Resource:
    return {"reference": url}


def _ts(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds")


def _qty(value: float, ucum: str, unit: str | None = None) -> Resource:
    return {"value": value, "unit": unit or ucum.strip("{}"), "system": v.UCUM, "code": ucum}


def clamp(value: float, low: float, high: float) -> float:
    return max(low, min(high, value))


class Hospital(Protocol):
    """The shared resources the clinical builders refer to."""

    org: str
    wards: list[str]
    physicians: list[str]


@dataclass(frozen=True)
class _Encounter:
    url: str
    cls: str
    start: datetime
    end: datetime | None
    physician: str

    @property
    def finish(self) -> datetime:
        return self.end if self.end is not None else self.start + timedelta(hours=12)

    def at(self, rng: random.Random, low: float, high: float) -> datetime:
        """A moment the given fraction of the way through the encounter."""
        moment = self.start + (self.finish - self.start) * rng.uniform(low, high)
        return moment.replace(microsecond=0)


@dataclass(frozen=True)
class _Diagnosis:
    kind: v.ConditionKind
    url: str
    encounter: _Encounter
    recorded: datetime


class ClinicalRecord:
    """The builders of one patient's clinical resources; a subclass sets the patient's state
    (the attributes below) and calls the builders in dependency order."""

    rng: random.Random
    shared: Hospital
    entries: list[Resource]
    patient: str
    given: list[str]
    family: str
    age: int
    gp: str
    nurse: str
    height: float
    bmi: float
    codes: set[str]
    allergy_kinds: list[v.AllergyKind]
    encounters: list[_Encounter]

    def _add(self, resource_type: str, **fields: Any) -> str:
        url = new_url(self.rng)
        resource = {"resourceType": resource_type, **fields}
        request = {"method": "POST", "url": resource_type}
        self.entries.append({"fullUrl": url, "resource": resource, "request": request})
        return url

    def _about(self, enc: _Encounter) -> Resource:
        return {"subject": ref(self.patient), "encounter": ref(enc.url)}

    def _encounter(self, cls: str, start: datetime, end: datetime | None) -> _Encounter:
        physician = self.gp if cls == "AMB" else self.rng.choice(self.shared.physicians)
        period = {"start": _ts(start)} | ({"end": _ts(end)} if end else {})
        extra: Resource = {}
        if cls == "IMP":
            ward = self.rng.choice(self.shared.wards)
            status = "completed" if end else "active"
            extra["location"] = [{"location": ref(ward), "status": status, "period": period}]
        url = self._add(
            "Encounter",
            status="finished" if end else "in-progress",
            type=[cc(v.ENCOUNTER_TYPES[cls])],
            subject=ref(self.patient),
            participant=[{"type": [cc(v.ATTENDER)], "individual": ref(physician)}],
            period=period,
            serviceProvider=ref(self.shared.org),
            **{"class": _coding(v.ENCOUNTER_CLASSES[cls])},
            **extra,
        )
        return _Encounter(url, cls, start, end, physician)

    def _observation(
        self, enc: _Encounter, category: str, code: Code, when: datetime, **value: Any
    ) -> str:
        return self._add(
            "Observation",
            status="final",
            category=[cc(v.OBS_CATEGORIES[category])],
            code=cc(code),
            **self._about(enc),
            effectiveDateTime=_ts(when),
            performer=[ref(self.nurse if category == "vital-signs" else self.shared.org)],
            **value,
        )

    def _vital_signs(self, enc: _Encounter) -> None:
        rng = self.rng
        unwell = enc.cls != "AMB"
        fever = unwell and rng.random() < 0.35
        hypertensive = "38341003" in self.codes
        values = {
            "heart_rate": round(clamp(rng.gauss(88 if unwell else 72, 9), 52, 130)),
            "respiratory_rate": rng.randint(12, 17) + (rng.randint(0, 5) if unwell else 0),
            "temperature": round(rng.gauss(36.8, 0.2) + (rng.uniform(1.0, 2.2) if fever else 0), 1),
            "spo2": rng.randint(95, 100) - (rng.randint(0, 4) if unwell else 0),
            "weight": round(self.bmi * (self.height / 100) ** 2 + rng.uniform(-1.5, 1.5), 1),
            "height": self.height,
        }
        when = enc.at(rng, 0.02, 0.1)
        for key, value in values.items():
            code, ucum, unit = v.VITALS[key]
            self._observation(enc, "vital-signs", code, when, valueQuantity=_qty(value, ucum, unit))
        systolic = round(clamp(rng.gauss(146 if hypertensive else 120, 9), 98, 185))
        diastolic = round(clamp(rng.gauss(90 if hypertensive else 76, 6), 55, systolic - 30))
        components = [
            {"code": cc(code), "valueQuantity": _qty(val, "mm[Hg]", "mmHg")}
            for code, val in ((v.BP_SYSTOLIC, systolic), (v.BP_DIASTOLIC, diastolic))
        ]
        self._observation(enc, "vital-signs", v.BP_PANEL, when, component=components)

    def _lab_reports(self) -> None:
        """1-2 panels, preferably drawn in emergency or inpatient encounters."""
        rng = self.rng
        candidates = [e for e in self.encounters if e.cls != "AMB"] or self.encounters
        first_panel = rng.randrange(len(v.PANELS))
        for index in range(rng.randint(1, 2)):
            panel, keys = v.PANELS[(first_panel + index) % len(v.PANELS)]
            enc = rng.choice(candidates)
            when = enc.at(rng, 0.1, 0.3)
            results = [self._lab_result(enc, key, when) for key in keys]
            self._add(
                "DiagnosticReport",
                status="final",
                category=[cc(v.LAB_CATEGORY)],
                code=cc(panel),
                **self._about(enc),
                effectiveDateTime=_ts(when),
                issued=_ts(when + timedelta(minutes=rng.randint(45, 180))),
                performer=[ref(self.shared.org)],
                result=[ref(url) for url in results],
            )

    def _lab_result(self, enc: _Encounter, key: str, when: datetime) -> str:
        lab = v.LABS[key]
        span = lab.high - lab.low
        low, high = lab.low + 0.05 * span, lab.high - 0.05 * span
        for condition, ranges in v.ABNORMAL_LABS.items():
            if condition in self.codes and key in ranges:
                low, high = ranges[key]
        raw = self.rng.uniform(low, high)
        value: float = round(raw, lab.decimals) if lab.decimals else round(raw)
        flag = "L" if value < lab.low else "H" if value > lab.high else "N"
        return self._observation(
            enc,
            "laboratory",
            lab.code,
            when,
            valueQuantity=_qty(value, lab.unit),
            interpretation=[cc(v.INTERPRETATIONS[flag])],
            referenceRange=[{"low": _qty(lab.low, lab.unit), "high": _qty(lab.high, lab.unit)}],
        )

    def _condition(self, kind: v.ConditionKind) -> _Diagnosis:
        """Chronic problems are recorded at the first visit; acute ones at any, then resolve."""
        rng = self.rng
        enc = self.encounters[0] if kind.chronic else rng.choice(self.encounters)
        recorded = enc.at(rng, 0.1, 0.5)
        days_before = rng.randint(30, 3650) if kind.chronic else rng.randint(2, 10)
        onset = recorded - timedelta(days=days_before, hours=rng.randint(0, 23))
        abatement = recorded + timedelta(days=rng.randint(14, 28))
        resolved = not kind.chronic and abatement < ANCHOR
        url = self._add(
            "Condition",
            clinicalStatus=cc(v.CONDITION_RESOLVED if resolved else v.CONDITION_ACTIVE),
            verificationStatus=cc(v.CONDITION_CONFIRMED),
            category=[cc(v.PROBLEM_LIST_ITEM if kind.chronic else v.ENCOUNTER_DIAGNOSIS)],
            code=cc(kind.code),
            **self._about(enc),
            onsetDateTime=_ts(onset),
            **({"abatementDateTime": _ts(abatement)} if resolved else {}),
            recordedDate=_ts(recorded),
            recorder=ref(enc.physician),
        )
        return _Diagnosis(kind, url, enc, recorded)

    def _allergy(self, kind: v.AllergyKind) -> None:
        rng = self.rng
        manifestation = rng.choice(kind.manifestations)
        severe = manifestation == v.ANAPHYLAXIS
        first = self.encounters[0]
        self._add(
            "AllergyIntolerance",
            clinicalStatus=cc(v.ALLERGY_ACTIVE),
            verificationStatus=cc(v.ALLERGY_CONFIRMED),
            type="allergy",
            category=[kind.category],
            criticality="high" if severe else rng.choice(("low", "unable-to-assess")),
            code=cc(kind.code),
            patient=ref(self.patient),
            encounter=ref(first.url),
            recordedDate=_ts(first.at(rng, 0.1, 0.5)),
            recorder=ref(first.physician),
            reaction=[
                {
                    "manifestation": [cc(manifestation)],
                    "severity": "severe" if severe else rng.choice(("mild", "moderate")),
                }
            ],
        )

    def _medication(self, diagnosis: _Diagnosis) -> None:
        """Long-term drugs stay active (re-ordered at the latest admission, if any, and given
        there once); short courses are completed orders from the diagnosing encounter."""
        rng = self.rng
        avoid = {key for allergy in self.allergy_kinds for key in allergy.avoid}
        options = [m for m in diagnosis.kind.medications if m not in avoid]
        med = v.MEDICATIONS[rng.choice(options)]
        inpatient = [e for e in self.encounters if e.cls == "IMP"]
        enc = (inpatient or self.encounters)[-1] if med.chronic else diagnosis.encounter
        earliest = diagnosis.recorded + timedelta(minutes=rng.randint(2, 20))
        authored = max(enc.at(rng, 0.05, 0.3), earliest)
        dosage = {"text": med.instruction, "route": cc(med.route)}
        request = self._add(
            "MedicationRequest",
            status="active" if med.chronic else "completed",
            intent="order",
            medicationCodeableConcept=cc(med.code),
            **self._about(enc),
            authoredOn=_ts(authored),
            requester=ref(enc.physician),
            reasonReference=[ref(diagnosis.url)],
            dosageInstruction=[
                dosage | {"doseAndRate": [{"doseQuantity": _qty(med.dose, med.dose_unit)}]}
            ],
        )
        if med.chronic and enc.cls == "IMP":
            self._add(
                "MedicationAdministration",
                status="completed",
                medicationCodeableConcept=cc(med.code),
                subject=ref(self.patient),
                context=ref(enc.url),
                effectiveDateTime=_ts(authored + timedelta(minutes=rng.randint(60, 240))),
                performer=[{"actor": ref(self.nurse)}],
                request=ref(request),
                dosage=dosage | {"dose": _qty(med.dose, med.dose_unit)},
            )

    def _immunizations(self) -> None:
        rng = self.rng
        eligible = [code for code, min_age in v.VACCINES if self.age >= min_age]
        clinic = [e for e in self.encounters if e.cls == "AMB"]
        for vaccine in rng.sample(eligible, rng.randint(1, 2)):
            context: Resource = {}
            if clinic:
                enc = rng.choice(clinic)
                context["encounter"] = ref(enc.url)
                when = enc.at(rng, 0.5, 0.9)
            else:
                when = ANCHOR - timedelta(days=rng.randint(30, 1000), hours=rng.randint(6, 14))
            self._add(
                "Immunization",
                status="completed",
                vaccineCode=cc(vaccine),
                patient=ref(self.patient),
                **context,
                occurrenceDateTime=_ts(when),
                primarySource=True,
                lotNumber=f"{rng.choice('ABCDEFGHJK')}{rng.randint(10000, 99999)}",
                site=cc(v.VACCINE_SITE),
                route=cc(v.VACCINE_ROUTE),
                performer=[{"function": cc(v.ADMINISTERING_PROVIDER), "actor": ref(self.nurse)}],
            )

    def _procedure(self) -> None:
        rng = self.rng
        enc = rng.choice(self.encounters)
        code, _, surgical = rng.choice([p for p in v.PROCEDURES if enc.cls in p[1]])
        start = enc.at(rng, 0.2, 0.6)
        end = min(start + timedelta(minutes=rng.randint(20, 75)), enc.finish)
        performed: Resource = (
            {"performedPeriod": {"start": _ts(start), "end": _ts(end)}}
            if surgical
            else {"performedDateTime": _ts(start)}
        )
        self._add(
            "Procedure",
            status="completed",
            code=cc(code),
            **self._about(enc),
            **performed,
            performer=[{"actor": ref(enc.physician)}],
        )

    def _care_team(self) -> str:
        members = [(self.gp, v.ROLE_GP)]
        if self.rng.random() < 0.6:
            members.append((self.nurse, v.ROLE_NURSE))
        return self._add(
            "CareTeam",
            status="active",
            category=[cc(v.CARE_TEAM_CATEGORY)],
            name=f"Care team for {self.given[0]} {self.family}",
            subject=ref(self.patient),
            period={"start": _ts(self.encounters[0].start)},
            participant=[{"role": [cc(role)], "member": ref(url)} for url, role in members],
            managingOrganization=[ref(self.shared.org)],
        )

    def _care_plan(self, care_team: str, diagnosis: _Diagnosis) -> None:
        activities = []
        for code, description in diagnosis.kind.plan_activities:
            status = self.rng.choice(("in-progress", "scheduled"))
            detail: Resource = {"status": status, "description": description}
            if code is not None:
                detail["code"] = cc(code)
            activities.append({"detail": detail})
        self._add(
            "CarePlan",
            status="active",
            intent="plan",
            category=[cc(v.CARE_PLAN_CATEGORY)],
            title=diagnosis.kind.plan_title,
            **self._about(diagnosis.encounter),
            period={"start": _ts(diagnosis.recorded)},
            author=ref(self.gp),
            careTeam=[ref(care_team)],
            addresses=[ref(diagnosis.url)],
            activity=activities,
        )
