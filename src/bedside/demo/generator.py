"""Synthetic, clinically plausible demo patients as FHIR R4 transaction Bundles.

Every patient is invented: names are common given and family names combined at random, and
all values come from the tables in :mod:`bedside.demo.vocabulary`. Output is deterministic for
a seed. Clinical dates fall in the three years before the start of the UTC day on which this
module was imported, so repeated calls within one process give identical bundles.

Each Bundle repeats the shared resources (the demo hospital, its wards and practitioners) with
the same ids and a conditional create (``ifNoneExist``), so loading many bundles creates them
once; all references inside a bundle are ``urn:uuid:`` fullUrls of entries in that bundle.
"""

from __future__ import annotations

import copy
import random
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from bedside.demo import vocabulary as v
from bedside.demo.vocabulary import Code

Resource = dict[str, Any]

_ANCHOR = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
_WINDOW = timedelta(days=3 * 365)


def generate_patients(count: int, *, seed: int = 0) -> Iterator[dict[str, Any]]:
    """Yield one FHIR R4 transaction Bundle (a plain JSON dict) per synthetic patient."""
    rng = random.Random(seed)  # noqa: S311 - reproducible demo data, not security
    shared = _Shared(rng)
    mrn_base = rng.randrange(10_000_000, 50_000_000)
    for index in range(count):
        record = _PatientRecord(rng, shared, f"BSD{mrn_base + index:08d}")
        entries = [*copy.deepcopy(shared.entries), *record.entries]
        yield {"resourceType": "Bundle", "type": "transaction", "entry": entries}


def _new_url(rng: random.Random) -> str:
    return f"urn:uuid:{uuid.UUID(int=rng.getrandbits(128), version=4)}"


def _coding(code: Code) -> Resource:
    return {"system": code.system, "code": code.code, "display": code.display}


def _cc(code: Code) -> Resource:
    return {"coding": [_coding(code)], "text": code.display}


def _ref(url: str) -> Resource:
    return {"reference": url}


def _ts(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds")


def _qty(value: float, ucum: str, unit: str | None = None) -> Resource:
    return {"value": value, "unit": unit or ucum.strip("{}"), "system": v.UCUM, "code": ucum}


def _npi(rng: random.Random) -> str:
    """A 10-digit NPI whose last digit is the Luhn check digit over the 80840 prefix."""
    body = str(rng.randrange(100_000_000, 300_000_000))
    total = 0
    for position, char in enumerate(reversed("80840" + body)):
        digit = int(char) * (2 if position % 2 == 0 else 1)
        total += digit - 9 if digit > 9 else digit
    return body + str((10 - total % 10) % 10)


def _person_name(rng: random.Random, gender: str) -> tuple[list[str], str]:
    pool = v.FEMALE_GIVEN if gender == "female" else v.MALE_GIVEN
    return rng.sample(pool, 2 if rng.random() < 0.35 else 1), rng.choice(v.FAMILY)


def _clamp(value: float, low: float, high: float) -> float:
    return max(low, min(high, value))


class _Shared:
    """The demo hospital, its wards and staff: identical in every bundle for one seed."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.entries: list[Resource] = []
        self.org = self._add(
            "Organization",
            v.ORG_SID,
            v.ORG_IDENTIFIER,
            active=True,
            type=[_cc(v.ORG_TYPE_PROVIDER)],
            name=v.ORG_NAME,
            telecom=[{"system": "phone", "value": "+1-413-555-0100", "use": "work"}],
            address=[
                {"use": "work", "line": ["1 Infirmary Way"], "city": "Brookfield Falls"}
                | {"state": "MA", "postalCode": "01301", "country": "US"}
            ],
        )
        self.wards = [
            self._add(
                "Location",
                v.LOCATION_SID,
                ident,
                status="active",
                name=name,
                mode="instance",
                physicalType=_cc(v.WARD_TYPE),
                managingOrganization=_ref(self.org),
            )
            for ident, name in v.WARDS
        ]
        staff = ["physician"] * 4 + ["nurse"] * 2
        self.physicians: list[str] = []
        self.nurses: list[str] = []
        npis: set[str] = set()
        for index, role in enumerate(staff):
            gender = rng.choice(("female", "male"))
            given, family = _person_name(rng, gender)
            npi = _npi(rng)
            while npi in npis:
                npi = _npi(rng)
            npis.add(npi)
            name: Resource = {"use": "official", "family": family, "given": given}
            url = self._add(
                "Practitioner",
                v.NPI,
                npi,
                active=True,
                name=[name | ({"prefix": ["Dr."]} if role == "physician" else {})],
                telecom=[{"system": "phone", "value": f"+1-413-555-01{10 + index}"}],
                gender=gender,
                qualification=[{"code": _cc(v.QUALIFICATIONS[role])}],
            )
            (self.physicians if role == "physician" else self.nurses).append(url)

    def _add(self, resource_type: str, system: str, value: str, **fields: Any) -> str:
        url = _new_url(self.rng)
        identifier = {"use": "official", "system": system, "value": value}
        resource = {"resourceType": resource_type, "identifier": [identifier]}
        condition = f"identifier={system}|{value}"
        request = {"method": "POST", "url": resource_type, "ifNoneExist": condition}
        self.entries.append({"fullUrl": url, "resource": resource | fields, "request": request})
        return url


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


class _PatientRecord:
    """Builds the entries of one patient's bundle, in dependency order."""

    def __init__(self, rng: random.Random, shared: _Shared, mrn: str) -> None:
        self.rng = rng
        self.shared = shared
        self.entries: list[Resource] = []
        self.gender = rng.choice(("female", "male"))
        self.given, self.family = _person_name(rng, self.gender)
        self.age = rng.randint(21, 90)
        self.birth: date = (_ANCHOR - timedelta(days=self.age * 365 + rng.randint(0, 360))).date()
        self.gp = rng.choice(shared.physicians)
        self.nurse = rng.choice(shared.nurses)
        mean_height = 176.0 if self.gender == "male" else 163.0
        self.height = round(_clamp(rng.gauss(mean_height, 7.0), 148.0, 200.0), 1)
        self.bmi = rng.uniform(19.5, 34.0)
        condition_kinds = rng.sample(v.CONDITIONS, rng.randint(1, 3))
        self.codes = {kind.code.code for kind in condition_kinds}
        self.allergy_kinds = rng.sample(v.ALLERGIES, rng.choices((0, 1, 2), (5, 3, 1))[0])

        self.patient = self._patient(mrn)
        self.encounters = [self._encounter(*plan) for plan in self._plan_encounters()]
        for encounter in self.encounters:
            self._vital_signs(encounter)
        self._lab_reports()
        conditions = [self._condition(kind) for kind in condition_kinds]
        for allergy in self.allergy_kinds:
            self._allergy(allergy)
        for diagnosis in conditions:
            self._medication(diagnosis)
        self._immunizations()
        if rng.random() < 0.5:
            self._procedure()
        care_team = self._care_team()
        planned = [diagnosis for diagnosis in conditions if diagnosis.kind.plan_title]
        if planned and rng.random() < 0.75:
            self._care_plan(care_team, planned[0])

    def _add(self, resource_type: str, **fields: Any) -> str:
        url = _new_url(self.rng)
        resource = {"resourceType": resource_type, **fields}
        request = {"method": "POST", "url": resource_type}
        self.entries.append({"fullUrl": url, "resource": resource, "request": request})
        return url

    def _about(self, enc: _Encounter) -> Resource:
        return {"subject": _ref(self.patient), "encounter": _ref(enc.url)}

    def _patient(self, mrn: str) -> str:
        rng = self.rng
        city, state, zip_prefix = rng.choice(v.CITIES)
        phone = f"+1-{rng.choice(('413', '603', '860', '978'))}-555-01{rng.randint(0, 99):02d}"
        email = f"{self.given[0]}.{self.family}{rng.randint(1, 99)}@example.com".lower()
        mrn_identifier = {"use": "usual", "type": _cc(v.MRN_TYPE), "system": v.MRN_SID}
        return self._add(
            "Patient",
            identifier=[mrn_identifier | {"value": mrn, "assigner": _ref(self.shared.org)}],
            active=True,
            name=[{"use": "official", "family": self.family, "given": self.given}],
            telecom=[
                {"system": "phone", "value": phone, "use": "mobile"},
                {"system": "email", "value": email, "use": "home"},
            ],
            gender=self.gender,
            birthDate=self.birth.isoformat(),
            address=[
                {"use": "home", "type": "physical", "city": city, "state": state, "country": "US"}
                | {"line": [f"{rng.randint(1, 999)} {rng.choice(v.STREETS)}"]}
                | {"postalCode": f"{zip_prefix}{rng.randint(1, 99):02d}"}
            ],
            generalPractitioner=[_ref(self.gp)],
            managingOrganization=_ref(self.shared.org),
        )

    def _plan_encounters(self) -> list[tuple[str, datetime, datetime | None]]:
        """2-5 encounters spread over the window; the last may be an ongoing admission."""
        rng = self.rng
        count = rng.randint(2, 5)
        ongoing = rng.random() < 0.3
        slot = (_WINDOW - timedelta(days=14)) / count
        plans: list[tuple[str, datetime, datetime | None]] = []
        for index in range(count):
            if ongoing and index == count - 1:
                plans.append(("IMP", _ANCHOR - timedelta(hours=rng.randint(26, 96)), None))
                continue
            cls = rng.choices(("AMB", "EMER", "IMP"), (55, 20, 25))[0]
            day = _ANCHOR - _WINDOW + slot * index + slot * rng.uniform(0.0, 0.6)
            hour = rng.randint(8, 16) if cls == "AMB" else rng.randint(0, 23)
            start = day.replace(hour=hour, minute=rng.choice((0, 15, 30, 45)), second=0)
            start = start.replace(microsecond=0)
            length = {
                "AMB": timedelta(minutes=rng.randint(30, 120)),
                "EMER": timedelta(minutes=rng.randint(120, 600)),
                "IMP": timedelta(days=rng.randint(2, 8), hours=rng.randint(0, 12)),
            }[cls]
            plans.append((cls, start, start + length))
        return plans

    def _encounter(self, cls: str, start: datetime, end: datetime | None) -> _Encounter:
        physician = self.gp if cls == "AMB" else self.rng.choice(self.shared.physicians)
        period = {"start": _ts(start)} | ({"end": _ts(end)} if end else {})
        extra: Resource = {}
        if cls == "IMP":
            ward = self.rng.choice(self.shared.wards)
            status = "completed" if end else "active"
            extra["location"] = [{"location": _ref(ward), "status": status, "period": period}]
        url = self._add(
            "Encounter",
            status="finished" if end else "in-progress",
            type=[_cc(v.ENCOUNTER_TYPES[cls])],
            subject=_ref(self.patient),
            participant=[{"type": [_cc(v.ATTENDER)], "individual": _ref(physician)}],
            period=period,
            serviceProvider=_ref(self.shared.org),
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
            category=[_cc(v.OBS_CATEGORIES[category])],
            code=_cc(code),
            **self._about(enc),
            effectiveDateTime=_ts(when),
            performer=[_ref(self.nurse if category == "vital-signs" else self.shared.org)],
            **value,
        )

    def _vital_signs(self, enc: _Encounter) -> None:
        rng = self.rng
        unwell = enc.cls != "AMB"
        fever = unwell and rng.random() < 0.35
        hypertensive = "38341003" in self.codes
        values = {
            "heart_rate": round(_clamp(rng.gauss(88 if unwell else 72, 9), 52, 130)),
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
        systolic = round(_clamp(rng.gauss(146 if hypertensive else 120, 9), 98, 185))
        diastolic = round(_clamp(rng.gauss(90 if hypertensive else 76, 6), 55, systolic - 30))
        components = [
            {"code": _cc(code), "valueQuantity": _qty(val, "mm[Hg]", "mmHg")}
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
                category=[_cc(v.LAB_CATEGORY)],
                code=_cc(panel),
                **self._about(enc),
                effectiveDateTime=_ts(when),
                issued=_ts(when + timedelta(minutes=rng.randint(45, 180))),
                performer=[_ref(self.shared.org)],
                result=[_ref(url) for url in results],
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
            interpretation=[_cc(v.INTERPRETATIONS[flag])],
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
        resolved = not kind.chronic and abatement < _ANCHOR
        url = self._add(
            "Condition",
            clinicalStatus=_cc(v.CONDITION_RESOLVED if resolved else v.CONDITION_ACTIVE),
            verificationStatus=_cc(v.CONDITION_CONFIRMED),
            category=[_cc(v.PROBLEM_LIST_ITEM if kind.chronic else v.ENCOUNTER_DIAGNOSIS)],
            code=_cc(kind.code),
            **self._about(enc),
            onsetDateTime=_ts(onset),
            **({"abatementDateTime": _ts(abatement)} if resolved else {}),
            recordedDate=_ts(recorded),
            recorder=_ref(enc.physician),
        )
        return _Diagnosis(kind, url, enc, recorded)

    def _allergy(self, kind: v.AllergyKind) -> None:
        rng = self.rng
        manifestation = rng.choice(kind.manifestations)
        severe = manifestation == v.ANAPHYLAXIS
        first = self.encounters[0]
        self._add(
            "AllergyIntolerance",
            clinicalStatus=_cc(v.ALLERGY_ACTIVE),
            verificationStatus=_cc(v.ALLERGY_CONFIRMED),
            type="allergy",
            category=[kind.category],
            criticality="high" if severe else rng.choice(("low", "unable-to-assess")),
            code=_cc(kind.code),
            patient=_ref(self.patient),
            encounter=_ref(first.url),
            recordedDate=_ts(first.at(rng, 0.1, 0.5)),
            recorder=_ref(first.physician),
            reaction=[
                {
                    "manifestation": [_cc(manifestation)],
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
        dosage = {"text": med.instruction, "route": _cc(med.route)}
        request = self._add(
            "MedicationRequest",
            status="active" if med.chronic else "completed",
            intent="order",
            medicationCodeableConcept=_cc(med.code),
            **self._about(enc),
            authoredOn=_ts(authored),
            requester=_ref(enc.physician),
            reasonReference=[_ref(diagnosis.url)],
            dosageInstruction=[
                dosage | {"doseAndRate": [{"doseQuantity": _qty(med.dose, med.dose_unit)}]}
            ],
        )
        if med.chronic and enc.cls == "IMP":
            self._add(
                "MedicationAdministration",
                status="completed",
                medicationCodeableConcept=_cc(med.code),
                subject=_ref(self.patient),
                context=_ref(enc.url),
                effectiveDateTime=_ts(authored + timedelta(minutes=rng.randint(60, 240))),
                performer=[{"actor": _ref(self.nurse)}],
                request=_ref(request),
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
                context["encounter"] = _ref(enc.url)
                when = enc.at(rng, 0.5, 0.9)
            else:
                when = _ANCHOR - timedelta(days=rng.randint(30, 1000), hours=rng.randint(6, 14))
            self._add(
                "Immunization",
                status="completed",
                vaccineCode=_cc(vaccine),
                patient=_ref(self.patient),
                **context,
                occurrenceDateTime=_ts(when),
                primarySource=True,
                lotNumber=f"{rng.choice('ABCDEFGHJK')}{rng.randint(10000, 99999)}",
                site=_cc(v.VACCINE_SITE),
                route=_cc(v.VACCINE_ROUTE),
                performer=[{"function": _cc(v.ADMINISTERING_PROVIDER), "actor": _ref(self.nurse)}],
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
            code=_cc(code),
            **self._about(enc),
            **performed,
            performer=[{"actor": _ref(enc.physician)}],
        )

    def _care_team(self) -> str:
        members = [(self.gp, v.ROLE_GP)]
        if self.rng.random() < 0.6:
            members.append((self.nurse, v.ROLE_NURSE))
        return self._add(
            "CareTeam",
            status="active",
            category=[_cc(v.CARE_TEAM_CATEGORY)],
            name=f"Care team for {self.given[0]} {self.family}",
            subject=_ref(self.patient),
            period={"start": _ts(self.encounters[0].start)},
            participant=[{"role": [_cc(role)], "member": _ref(url)} for url, role in members],
            managingOrganization=[_ref(self.shared.org)],
        )

    def _care_plan(self, care_team: str, diagnosis: _Diagnosis) -> None:
        activities = []
        for code, description in diagnosis.kind.plan_activities:
            status = self.rng.choice(("in-progress", "scheduled"))
            detail: Resource = {"status": status, "description": description}
            if code is not None:
                detail["code"] = _cc(code)
            activities.append({"detail": detail})
        self._add(
            "CarePlan",
            status="active",
            intent="plan",
            category=[_cc(v.CARE_PLAN_CATEGORY)],
            title=diagnosis.kind.plan_title,
            **self._about(diagnosis.encounter),
            period={"start": _ts(diagnosis.recorded)},
            author=_ref(self.gp),
            careTeam=[_ref(care_team)],
            addresses=[_ref(diagnosis.url)],
            activity=activities,
        )
