"""What the generated search table leaves out of the R4 definitions, and why. HAND-WRITTEN.

``scripts/generate_search_parameters.py`` translates each R4 SearchParameter expression into
the indexer's path syntax (:mod:`bedside.fhir.search.definitions`). This overlay is the small
part a person decides (ADR 0015): which types are covered, and every parameter or union part
whose FHIRPath the indexer (:mod:`bedside.fhir.search.extract`) cannot evaluate yet, each with
its reason. The generator refuses an expression it cannot translate unless it is named here, so
nothing is left out silently.
"""

from __future__ import annotations

from typing import Final

__all__ = ["COVERED_TYPES", "DROPPED_PARTS", "LEFT_OUT"]

#: Types whose R4 parameters are generated. Every other type gets the common parameters and a
#: generic ``patient``/``subject`` (bedside.fhir.search.registry). These are the 37 types the
#: hand-written table had, so the generated one could be checked against it row for row;
#: covering another type is a line here, a regeneration and ``bedside admin reindex``.
COVERED_TYPES: Final = frozenset(
    {
        "AllergyIntolerance",
        "Appointment",
        "AuditEvent",
        "Bundle",
        "CarePlan",
        "CareTeam",
        "Claim",
        "Communication",
        "Composition",
        "Condition",
        "Consent",
        "Coverage",
        "Device",
        "DiagnosticReport",
        "DocumentReference",
        "Encounter",
        "ExplanationOfBenefit",
        "Flag",
        "Goal",
        "Group",
        "ImagingStudy",
        "Immunization",
        "Location",
        "Medication",
        "MedicationAdministration",
        "MedicationRequest",
        "MedicationStatement",
        "Observation",
        "Organization",
        "Patient",
        "Practitioner",
        "PractitionerRole",
        "Procedure",
        "Provenance",
        "QuestionnaireResponse",
        "ServiceRequest",
        "Task",
    }
)

#: (type, code) -> why the parameter is not indexed.
_COMPOSITE = "a composite parameter: the index holds single values, not the tuples it pairs"
_TELECOM = (
    "telecom.where(system=...): a filter on an element's value, which the path syntax cannot"
    " say; search telecom instead"
)
_BUNDLE_ENTRY = (
    "Bundle.entry[0].resource: an index into the entries and a search inside the resource there"
)

LEFT_OUT: Final[dict[tuple[str, str], str]] = {
    ("Resource", "_content"): "full-text search of the whole resource is not supported",
    ("Resource", "_query"): "named queries are not supported",
    ("Bundle", "composition"): _BUNDLE_ENTRY,
    ("Bundle", "message"): _BUNDLE_ENTRY,
    ("DocumentReference", "relationship"): _COMPOSITE,
    ("Group", "characteristic-value"): _COMPOSITE,
    ("Location", "near"): "a special parameter: distance search on Location.position",
    ("Observation", "code-value-concept"): _COMPOSITE,
    ("Observation", "code-value-date"): _COMPOSITE,
    ("Observation", "code-value-quantity"): _COMPOSITE,
    ("Observation", "code-value-string"): _COMPOSITE,
    ("Observation", "combo-code-value-concept"): _COMPOSITE,
    ("Observation", "combo-code-value-quantity"): _COMPOSITE,
    ("Observation", "component-code-value-concept"): _COMPOSITE,
    ("Observation", "component-code-value-quantity"): _COMPOSITE,
    ("Patient", "deceased"): (
        "deceased.exists() and deceased != false: a boolean test over a choice, not an element"
    ),
    ("Patient", "email"): _TELECOM,
    ("Patient", "phone"): _TELECOM,
    ("Practitioner", "email"): _TELECOM,
    ("Practitioner", "phone"): _TELECOM,
    ("PractitionerRole", "email"): _TELECOM,
    ("PractitionerRole", "phone"): _TELECOM,
}

#: (type, code, union part as the definition writes it) -> why that part is dropped while the
#: parameter's other parts are kept.
_RANGE = "quantity search against a Range (a low and a high) is not supported"
_SAMPLED = "quantity search on the bounds of SampledData is not supported"

DROPPED_PARTS: Final[dict[tuple[str, str, str], str]] = {
    ("Condition", "abatement-age", "Condition.abatement.ofType(Range)"): _RANGE,
    ("Condition", "onset-age", "Condition.onset.ofType(Range)"): _RANGE,
    ("Observation", "value-quantity", "(Observation.value.ofType(SampledData))"): _SAMPLED,
    ("Observation", "combo-value-quantity", "(Observation.value.ofType(SampledData))"): _SAMPLED,
    (
        "Observation",
        "combo-value-quantity",
        "(Observation.component.value.ofType(SampledData))",
    ): _SAMPLED,
    (
        "Observation",
        "component-value-quantity",
        "(Observation.component.value.ofType(SampledData))",
    ): _SAMPLED,
}
