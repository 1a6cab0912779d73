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
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from typing import Any

from bedside.demo import vocabulary as v
from bedside.demo.clinical import ANCHOR, ClinicalRecord, Resource, cc, clamp, new_url, ref

__all__ = ["generate_patients"]

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
            type=[cc(v.ORG_TYPE_PROVIDER)],
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
                physicalType=cc(v.WARD_TYPE),
                managingOrganization=ref(self.org),
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
                qualification=[{"code": cc(v.QUALIFICATIONS[role])}],
            )
            (self.physicians if role == "physician" else self.nurses).append(url)

    def _add(self, resource_type: str, system: str, value: str, **fields: Any) -> str:
        url = new_url(self.rng)
        identifier = {"use": "official", "system": system, "value": value}
        resource = {"resourceType": resource_type, "identifier": [identifier]}
        condition = f"identifier={system}|{value}"
        request = {"method": "POST", "url": resource_type, "ifNoneExist": condition}
        self.entries.append({"fullUrl": url, "resource": resource | fields, "request": request})
        return url


class _PatientRecord(ClinicalRecord):
    """Builds the entries of one patient's bundle, in dependency order: the patient and
    their visit timeline here, the clinical resources in :class:`ClinicalRecord`."""

    def __init__(self, rng: random.Random, shared: _Shared, mrn: str) -> None:
        self.rng = rng
        self.shared = shared
        self.entries: list[Resource] = []
        self.gender = rng.choice(("female", "male"))
        self.given, self.family = _person_name(rng, self.gender)
        self.age = rng.randint(21, 90)
        self.birth: date = (ANCHOR - timedelta(days=self.age * 365 + rng.randint(0, 360))).date()
        self.gp = rng.choice(shared.physicians)
        self.nurse = rng.choice(shared.nurses)
        mean_height = 176.0 if self.gender == "male" else 163.0
        self.height = round(clamp(rng.gauss(mean_height, 7.0), 148.0, 200.0), 1)
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

    def _patient(self, mrn: str) -> str:
        rng = self.rng
        city, state, zip_prefix = rng.choice(v.CITIES)
        phone = f"+1-{rng.choice(('413', '603', '860', '978'))}-555-01{rng.randint(0, 99):02d}"
        email = f"{self.given[0]}.{self.family}{rng.randint(1, 99)}@example.com".lower()
        mrn_identifier = {"use": "usual", "type": cc(v.MRN_TYPE), "system": v.MRN_SID}
        return self._add(
            "Patient",
            identifier=[mrn_identifier | {"value": mrn, "assigner": ref(self.shared.org)}],
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
            generalPractitioner=[ref(self.gp)],
            managingOrganization=ref(self.shared.org),
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
                plans.append(("IMP", ANCHOR - timedelta(hours=rng.randint(26, 96)), None))
                continue
            cls = rng.choices(("AMB", "EMER", "IMP"), (55, 20, 25))[0]
            day = ANCHOR - _WINDOW + slot * index + slot * rng.uniform(0.0, 0.6)
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
