"""The Patient compartment (R4 CompartmentDefinition/patient, compartmentdefinition-patient.html).

A resource is in the compartment of Patient ``P`` when one of its type's compartment search
parameters refers to ``Patient/P``; a Patient is in its own compartment (and, by the ``link``
parameter, in the compartment of every Patient it links to). ``R4_PATIENT_COMPARTMENT`` is the
R4 (4.0.1) table, transcribed as is; ``PATIENT_COMPARTMENT`` adds Task, by the patient it is
``for`` (``BEDSIDE_ADDITIONS``, ADR 0018).

How Bedside uses it to confine a caller (SMART App Launch "patient/" scopes, and "user/" scopes
of a patient user):

* Membership is read from the search index (its references), so only parameters the registry
  indexes count. Every parameter of the 37 types in :mod:`bedside.fhir.search.definitions` is
  there; the other types only have their generic ``patient``/``subject`` parameters, so for them
  membership is narrower than the table says (a missing parameter can only hide resources, never
  show more). Types left with no indexed parameter are invisible to a confined caller.
* Types that are not in the compartment are invisible to a confined caller (Binary, Bundle,
  Device, ...): deny by default.
* Except ``REFERENCE_TYPES``: shared reference data that holds no patient's data (Medication,
  Organization, Practitioner, ...). A confined caller may read and search them when a scope
  names the type or ``*``; confinement does not apply to them. It may not create, update or
  delete them: they are not the patient's to change.
* Membership is that of a resource's current version: the index holds only current versions.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any, Final

from bedside.fhir.search.extract import reference, walk
from bedside.fhir.search.registry import Path, params_for

__all__ = [
    "BEDSIDE_ADDITIONS",
    "PATIENT_COMPARTMENT",
    "R4_PATIENT_COMPARTMENT",
    "REFERENCE_TYPES",
    "Compartment",
    "indexed_params",
    "patient_compartment",
    "patients_of",
]

#: Resource type -> the search parameters that put a resource in a Patient's compartment (R4).
R4_PATIENT_COMPARTMENT: Final[dict[str, tuple[str, ...]]] = {
    "Account": ("subject",),
    "AdverseEvent": ("subject",),
    "AllergyIntolerance": ("patient", "recorder", "asserter"),
    "Appointment": ("actor",),
    "AppointmentResponse": ("actor",),
    "AuditEvent": ("patient",),
    "Basic": ("patient", "author"),
    "BodyStructure": ("patient",),
    "CarePlan": ("patient", "performer"),
    "CareTeam": ("patient", "participant"),
    "ChargeItem": ("subject",),
    "Claim": ("patient", "payee"),
    "ClaimResponse": ("patient",),
    "ClinicalImpression": ("subject",),
    "Communication": ("subject", "sender", "recipient"),
    "CommunicationRequest": ("subject", "sender", "recipient", "requester"),
    "Composition": ("subject", "author", "attester"),
    "Condition": ("patient", "asserter"),
    "Consent": ("patient",),
    "Coverage": ("policy-holder", "subscriber", "beneficiary", "payor"),
    "CoverageEligibilityRequest": ("patient",),
    "CoverageEligibilityResponse": ("patient",),
    "DetectedIssue": ("patient",),
    "DeviceRequest": ("subject", "performer"),
    "DeviceUseStatement": ("subject",),
    "DiagnosticReport": ("subject",),
    "DocumentManifest": ("subject", "author", "recipient"),
    "DocumentReference": ("subject", "author"),
    "Encounter": ("patient",),
    "EnrollmentRequest": ("subject",),
    "EpisodeOfCare": ("patient",),
    "ExplanationOfBenefit": ("patient", "payee"),
    "FamilyMemberHistory": ("patient",),
    "Flag": ("patient",),
    "Goal": ("patient",),
    "Group": ("member",),
    "ImagingStudy": ("patient",),
    "Immunization": ("patient",),
    "ImmunizationEvaluation": ("patient",),
    "ImmunizationRecommendation": ("patient",),
    "Invoice": ("subject", "patient", "recipient"),
    "List": ("subject", "source"),
    "MeasureReport": ("patient",),
    "Media": ("subject",),
    "MedicationAdministration": ("patient", "performer", "subject"),
    "MedicationDispense": ("subject", "patient", "receiver"),
    "MedicationRequest": ("subject",),
    "MedicationStatement": ("subject",),
    "MolecularSequence": ("patient",),
    "NutritionOrder": ("patient",),
    "Observation": ("subject", "performer"),
    "Patient": ("link",),
    "Person": ("patient",),
    "Procedure": ("patient", "performer"),
    "Provenance": ("patient",),
    "QuestionnaireResponse": ("subject", "author"),
    "RelatedPerson": ("patient",),
    "RequestGroup": ("subject", "participant"),
    "ResearchSubject": ("individual",),
    "RiskAssessment": ("subject",),
    "Schedule": ("actor",),
    "ServiceRequest": ("subject", "performer"),
    "Specimen": ("subject",),
    "SupplyDelivery": ("patient",),
    "SupplyRequest": ("subject",),
    "VisionPrescription": ("patient",),
}

#: Bedside's additions to R4's table (docs/adr/0018-task-reach-by-for.md): types R4 leaves out
#: of the compartment whose resources are nevertheless about one patient. A Task is in the
#: compartment of the Patient it is ``for`` (its ``patient`` search parameter), so whoever may
#: change that patient's record may read and update it, and nobody else; its ``owner`` and
#: ``requester`` give no access.
BEDSIDE_ADDITIONS: Final[dict[str, tuple[str, ...]]] = {"Task": ("patient",)}

#: The table Bedside confines callers by: R4's, plus :data:`BEDSIDE_ADDITIONS`.
PATIENT_COMPARTMENT: Final[dict[str, tuple[str, ...]]] = {
    **R4_PATIENT_COMPARTMENT,
    **BEDSIDE_ADDITIONS,
}

#: Shared reference data a confined caller may read when a scope names the type (or ``*``).
REFERENCE_TYPES: Final = frozenset(
    {
        "CodeSystem",
        "Endpoint",
        "HealthcareService",
        "Location",
        "Medication",
        "Organization",
        "Practitioner",
        "PractitionerRole",
        "Substance",
        "ValueSet",
    }
)


@dataclass(frozen=True, slots=True)
class Compartment:
    """The compartments of some Patients, for one resource type, as the index can test them.

    A row is in it when one of ``params`` (index keys such as ``Observation.subject``) refers to
    ``Patient/<p>`` for a ``p`` in ``patients``, or, for the Patient type, when the row is one of
    those Patients. A caller confined to one patient has one; a clinician has the patients of
    their care relationships, grouped by the rules that apply to them.
    """

    patients: tuple[str, ...]
    params: tuple[str, ...]
    is_patient: bool = False

    @property
    def empty(self) -> bool:
        """True when no row of the type can be in the compartment."""
        return not self.patients or (not self.params and not self.is_patient)

    def union(self, other: Compartment) -> Compartment:
        """Both compartments' patients (of the same resource type)."""
        patients = tuple(sorted(set(self.patients) | set(other.patients)))
        return Compartment(patients, self.params, self.is_patient)


def indexed_params(resource_type: str) -> tuple[str, ...]:
    """Index keys of the type's compartment parameters that the search registry has."""
    known = params_for(resource_type)
    return tuple(
        known[code].key
        for code in PATIENT_COMPARTMENT.get(resource_type, ())
        if code in known and known[code].kind == "reference"
    )


def patient_compartment(resource_type: str, *patients: str) -> Compartment:
    """The compartments of ``Patient/<p>`` for ``resource_type`` (maybe empty)."""
    ids = tuple(sorted(set(patients)))
    return Compartment(ids, indexed_params(resource_type), resource_type == "Patient")


def patients_of(resource: dict[str, Any]) -> tuple[str, ...]:
    """The Patients in whose compartments ``resource`` lies (for audit and change feeds).

    Reads the same compartment parameters as :func:`indexed_params`, straight from the resource,
    so it costs a walk of a few paths rather than a query.
    """
    rtype = resource.get("resourceType", "")
    found: set[str] = set()
    if rtype == "Patient" and isinstance(resource.get("id"), str):
        found.add(resource["id"])
    for path in _compartment_paths(rtype):
        for value in walk(resource, path.segments, 0):
            ref = reference(value)
            if ref is not None and ref[0] == "Patient":
                found.add(ref[1])
    return tuple(sorted(found))


@cache
def _compartment_paths(rtype: str) -> tuple[Path, ...]:
    known = params_for(rtype)
    return tuple(
        path
        for code in PATIENT_COMPARTMENT.get(rtype, ())
        if code in known and known[code].kind == "reference"
        for path in known[code].paths
    )
