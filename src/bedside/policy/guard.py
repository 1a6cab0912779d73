"""The rule no write may break: a write never widens its writer's own access (docs/policy.md).

Access is decided from the FHIR data itself (care teams, encounters at wards, the Location
hierarchy, consents), so a write can change who sees what. Two checks keep a caller from
granting itself anything, made for every write on every path (REST, transaction Bundles, sync
ingest and review resolution all store through :class:`bedside.rest.interactions.Interactions`):

1. **Every patient.** A confined caller may store a version only when it may change *every*
   patient compartment that version and the version it replaces belong to
   (:func:`bedside.fhir.compartment.patients_of`), not merely one of them: an Observation about
   a stranger with a performer the caller cares for is refused, so is a CareTeam naming one.
   The patients it may change are :func:`changeable` (care relationships and break-glass;
   consent shares are read-only).
2. **No self-widening.** A write of a type the policy reads to decide access
   (:data:`POLICY_INPUTS`) is followed, in the same transaction and at the same instant, by the
   policy's decision for the writer again; the write is refused when the new decision gives the
   writer anything the old one did not (:func:`widening`): another patient, a new or longer
   reason to reach one, a consent share, or a refusal lifted. Someone else must make such a
   change: the patient (a patient's own view never grows), another clinician, or an
   administrator.

Break-glass is not a FHIR write: its grants are made by ``$break-glass`` and reviewed.
"""

from __future__ import annotations

from typing import Final

from bedside.policy.model import AccessView

__all__ = ["POLICY_INPUTS", "changeable", "refusal_message", "widening"]

#: The resource types whose content :meth:`bedside.policy.decide.Policy.view` reads (CareTeam
#: and Encounter by :mod:`bedside.policy.relationships`, Location's ``partOf`` for wards, Consent
#: for shares and refusals). Writing one re-decides the writer's access before it commits.
POLICY_INPUTS: Final = frozenset(
    {"CareTeam", "Consent", "Encounter", "Location", "PractitionerRole"}
)


def changeable(view: AccessView) -> frozenset[str]:
    """The patients whose records a confined view lets its caller change."""
    return frozenset(a.patient for a in (*view.relations, *view.glass))


def widening(before: AccessView, after: AccessView) -> str | None:
    """How ``after`` gives its caller more than ``before`` did, as the end of a sentence that
    starts "it would ..."; None when it gives nothing more."""
    if _reached(after) - _reached(before):
        return "give you access to a patient's record you cannot reach now"
    if set(after.relations) - set(before.relations) or set(after.glass) - set(before.glass):
        return "give you a new or longer-lasting reason to reach a patient's record"
    if set(after.shares) - set(before.shares):
        return "share more of a patient's record with you"
    if set(before.refusals) - set(after.refusals):
        return "lift a refusal that applies to you"
    return None


def _reached(view: AccessView) -> frozenset[str]:
    return changeable(view) | {s.patient for s in view.shares}


def refusal_message(rtype: str, how: str) -> str:
    return (
        f"This {rtype} was not stored: it would {how}. A change to your own access must be made"
        " by someone else (the patient, another clinician or an administrator)."
    )
