"""The Patient compartment (R4 CompartmentDefinition/patient, compartmentdefinition-patient.html).

A resource is in the compartment of Patient ``P`` when one of its type's compartment search
parameters refers to ``Patient/P``; a Patient is in its own compartment (and, by the ``link``
parameter, in the compartment of every Patient it links to). ``PATIENT_COMPARTMENT`` is the R4
(4.0.1) table, transcribed as is.

How Bedside uses it to confine a caller (SMART App Launch "patient/" scopes, and "user/" scopes
of a patient user):

* Membership is read from the search index (``idx_reference``), so only parameters the registry
  indexes count. Every parameter of the 37 types in :mod:`bedside.fhir.search.definitions` is
  there; the other types only have their generic ``patient``/``subject`` parameters, so for them
  membership is narrower than the table says (a missing parameter can only hide resources, never
  show more). Types left with no indexed parameter are invisible to a confined caller.
* Types that are not in the compartment are invisible to a confined caller (Binary, Task,
  Bundle, Device, ...): deny by default.
* Except ``REFERENCE_TYPES``: shared reference data that holds no patient's data (Medication,
  Organization, Practitioner, ...). A confined caller may read and search them when a scope
  names the type or ``*``; confinement does not apply to them. It may not create, update or
  delete them: they are not the patient's to change.
* Membership is that of a resource's current version: the index holds only current versions.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from bedside.fhir.search.registry import params_for

#: Resource type -> the search parameters that put a resource in a Patient's compartment (R4).
PATIENT_COMPARTMENT: Final[dict[str, tuple[str, ...]]] = {
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
    """The compartment of one Patient, for one resource type, as the index can test it.

    A row is in it when one of ``params`` (index keys such as ``Observation.subject``) refers to
    ``Patient/<patient>``, or, for the Patient type, when the row is that Patient.
    """

    patient: str
    params: tuple[str, ...]
    is_patient: bool = False

    @property
    def empty(self) -> bool:
        """True when no row of the type can be in the compartment."""
        return not self.params and not self.is_patient


def indexed_params(resource_type: str) -> tuple[str, ...]:
    """Index keys of the type's compartment parameters that the search registry has."""
    known = params_for(resource_type)
    return tuple(
        known[code].key
        for code in PATIENT_COMPARTMENT.get(resource_type, ())
        if code in known and known[code].kind == "reference"
    )


def patient_compartment(resource_type: str, patient: str) -> Compartment:
    """The compartment of ``Patient/<patient>`` for ``resource_type`` (maybe empty)."""
    return Compartment(patient, indexed_params(resource_type), resource_type == "Patient")
