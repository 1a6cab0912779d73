"""What a privacy Consent write may contain, and how its status may move (consent.html).

The repository calls :func:`check_consent_write` before it stores a Consent create, update or
delete. A Consent is the patient's word, so anything Bedside cannot enforce is refused with a
reason ("not supported yet") instead of being stored and silently ignored; see
:mod:`bedside.consent.evaluate` for what is enforced.

Status (consent.html#statemachine, narrowed so a decision that was in force stays on record):

    create        draft, proposed, active
    draft       → draft, proposed, active, entered-in-error
    proposed    → proposed, active, rejected, entered-in-error
    active      → inactive, entered-in-error   (nothing but the status may change)
    inactive    → entered-in-error
    rejected    → entered-in-error
    entered-in-error (final)

A changed decision is a new Consent; withdrawing one is ``inactive``; Consents are never deleted
(http.html#delete: a server that refuses delete for a type as policy answers 405).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any, Final

from bedside.consent.evaluate import (
    ACTION_SYSTEM,
    CLASS_SYSTEM,
    MAX_DEPTH,
    PURPOSE_SYSTEM,
    actor_reference,
    data_reference,
    is_privacy,
    period_bounds,
    read_provision,
)
from bedside.errors import Conflict, Forbidden, MethodNotAllowed, Unprocessable
from bedside.fhir.compartment import PATIENT_COMPARTMENT, REFERENCE_TYPES, patients_of
from bedside.fhir.dates import parse_range
from bedside.fhir.resource_types import is_resource_type

__all__ = [
    "ACTIONS",
    "ACTOR_TYPES",
    "CREATE_STATUSES",
    "MAX_DATA",
    "TRANSITIONS",
    "check_consent_write",
    "check_content",
    "check_data_owned",
    "data_references",
    "in_patient_compartment",
]

CREATE_STATUSES: Final = frozenset({"draft", "proposed", "active"})
TRANSITIONS: Final[Mapping[str, frozenset[str]]] = {
    "draft": frozenset({"draft", "proposed", "active", "entered-in-error"}),
    "proposed": frozenset({"proposed", "active", "rejected", "entered-in-error"}),
    "active": frozenset({"inactive", "entered-in-error"}),
    "inactive": frozenset({"entered-in-error"}),
    "rejected": frozenset({"entered-in-error"}),
    "entered-in-error": frozenset(),
}
ACTOR_TYPES: Final = (
    "Practitioner",
    "PractitionerRole",
    "Organization",
    "RelatedPerson",
    "Patient",
    "CareTeam",
    "Device",
)
ACTIONS: Final = frozenset({"collect", "access", "use", "disclose", "correct"})
_ACTOR_RE: Final = re.compile(rf"(?:{'|'.join(ACTOR_TYPES)})/[A-Za-z0-9\-.]{{1,64}}")
_PATIENT_RE: Final = re.compile(r"Patient/[A-Za-z0-9\-.]{1,64}")
_DATA_RE: Final = re.compile(r"[A-Z][A-Za-z]{1,63}/[A-Za-z0-9\-.]{1,64}")
#: At most this many resources in one provision.data (a share of a few results, not a record).
MAX_DATA: Final = 50
#: Parts of a Consent that may differ between versions without changing the decision.
_NOT_CONTENT: Final = frozenset({"meta", "status", "text", "id"})
#: Provision elements Bedside does not enforce yet, with what they would mean.
_UNSUPPORTED: Final = {
    "dataPeriod": "limiting a provision to data from a time range (provision.dataPeriod)",
    "code": "limiting a provision to coded content (provision.code)",
}


def check_consent_write(
    old: Mapping[str, Any] | None,
    new: Mapping[str, Any] | None,
    *,
    patient_user: str | None,
) -> None:
    """Raise unless the write may be stored.

    ``old`` is the current version (None for a create), ``new`` None for a delete.
    ``patient_user`` is the Patient id of a patient user writing (None for staff and services).
    """
    if new is None:
        raise MethodNotAllowed(
            "A Consent cannot be deleted; set status to inactive to withdraw a consent."
        )
    if patient_user is not None:
        own = f"Patient/{patient_user}"
        if not patient_user or any(_patient(c) != own for c in (old, new) if c is not None):
            raise Forbidden("A patient can only record consent for their own record.")
    status = new.get("status")
    if old is None:
        if status not in CREATE_STATUSES:
            raise Unprocessable(
                f"A new Consent must be draft, proposed or active, not {status}.",
                expression=("Consent.status",),
            )
    else:
        _check_transition(old, new)
    check_content(new)


def in_patient_compartment(rtype: str) -> bool:
    """Whether ``rtype`` is patient data (the Patient compartment, not shared reference data)."""
    return rtype in PATIENT_COMPARTMENT and rtype not in REFERENCE_TYPES and rtype != "Patient"


def _check_transition(old: Mapping[str, Any], new: Mapping[str, Any]) -> None:
    before, after = old.get("status"), new.get("status")
    if after not in TRANSITIONS.get(str(before), frozenset()):
        if before == after:
            withdraw = " (set status to inactive to withdraw it)" if before == "active" else ""
            raise Conflict(
                f"A Consent that is {before} cannot be changed{withdraw}; "
                "create a new Consent instead.",
                expression=("Consent.status",),
            )
        raise Conflict(
            f"A Consent cannot go from {before} to {after}; create a new Consent instead.",
            expression=("Consent.status",),
        )
    if _patient(old) != _patient(new):
        raise Conflict(
            "The patient of a Consent cannot change; create a new Consent instead.",
            expression=("Consent.patient",),
        )
    if before == "active" and _content(old) != _content(new):
        raise Conflict(
            f"Only the status of an active Consent can change (to {after}); "
            "create a new Consent to record a different decision.",
        )


def _patient(consent: Mapping[str, Any]) -> Any:
    return (consent.get("patient") or {}).get("reference")


def _content(consent: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in consent.items() if k not in _NOT_CONTENT}


def check_content(consent: Mapping[str, Any]) -> None:
    """Raise Unprocessable (422) unless Bedside can enforce every part of the Consent."""
    if not is_privacy(consent):
        raise Unprocessable(
            "Bedside records privacy consents only: Consent.scope must be patient-privacy "
            "(http://terminology.hl7.org/CodeSystem/consentscope).",
            expression=("Consent.scope",),
        )
    patient = _patient(consent)
    if not isinstance(patient, str) or not _PATIENT_RE.fullmatch(patient):
        raise Unprocessable(
            "A privacy Consent must name its patient as a reference Patient/<id>.",
            expression=("Consent.patient",),
        )
    category = consent.get("category")
    if not isinstance(category, list) or not category:
        raise Unprocessable(
            "A Consent needs at least one category.", expression=("Consent.category",)
        )
    provision = consent.get("provision")
    if not isinstance(provision, dict):
        raise Unprocessable(
            "A privacy Consent needs a provision saying what it permits or denies.",
            expression=("Consent.provision",),
        )
    _check_provision(provision, "Consent.provision", depth=1, parent=None)


def _check_provision(
    raw: Mapping[str, Any], path: str, *, depth: int, parent: Mapping[str, Any] | None
) -> None:
    kind = raw.get("type")
    if kind not in ("permit", "deny"):
        raise Unprocessable(
            "Each provision must say whether it is a permit or a deny.",
            expression=(f"{path}.type",),
        )
    for name, meaning in _UNSUPPORTED.items():
        if raw.get(name):
            raise Unprocessable(
                f"Bedside does not support {meaning} yet; leave it out or record the "
                "decision with class (resource types) and securityLabel.",
                expression=(f"{path}.{name}",),
            )
    if raw.get("data"):
        _check_data(raw, path, depth=depth)
    _check_period(raw.get("period"), path)
    _check_codes(raw, path)
    for i, actor in enumerate(raw.get("actor") or ()):
        ref = actor_reference(actor)
        if ref is None or not _ACTOR_RE.fullmatch(ref):
            raise Unprocessable(
                "A provision actor must be a relative reference to a "
                f"{', '.join(ACTOR_TYPES[:-1])} or {ACTOR_TYPES[-1]} (Type/id).",
                expression=(f"{path}.actor[{i}].reference",),
            )
    if parent is not None:
        _check_exception(raw, parent, path)
    nested = raw.get("provision") or ()
    if nested and depth >= MAX_DEPTH:
        raise Unprocessable(
            f"Provisions nested more than {MAX_DEPTH - 1} level deep are not supported yet; "
            "record the further exceptions as a separate Consent.",
            expression=(f"{path}.provision",),
        )
    for i, sub in enumerate(nested):
        if isinstance(sub, dict):
            _check_provision(sub, f"{path}.provision[{i}]", depth=depth + 1, parent=raw)


def _check_data(raw: Mapping[str, Any], path: str, *, depth: int) -> None:
    """``provision.data`` on a root permit: particular resources, each ``instance``.

    Whether each named resource is the patient's own needs the store: the write hooks
    (:mod:`bedside.rest.writes`) call :func:`check_data_owned`, which reads it as the writer.
    """
    if depth != 1 or raw.get("type") != "permit":
        raise Unprocessable(
            "Bedside supports provision.data only on the root permit of a Consent (sharing "
            "particular resources); limiting a deny or an exception to particular resources "
            "is not supported yet.",
            expression=(f"{path}.data",),
        )
    items = raw["data"]
    if not isinstance(items, list) or len(items) > MAX_DATA:
        raise Unprocessable(
            f"provision.data must be a list of at most {MAX_DATA} resources.",
            expression=(f"{path}.data",),
        )
    types = {c.get("code") for c in raw.get("class") or () if isinstance(c, dict)}
    for i, item in enumerate(items):
        where = f"{path}.data[{i}]"
        meaning = item.get("meaning") if isinstance(item, dict) else None
        if meaning != "instance":
            raise Unprocessable(
                "A provision.data meaning must be instance (exactly the resource named); "
                f"{meaning or 'a missing meaning'} is not supported yet.",
                expression=(f"{where}.meaning",),
            )
        ref = data_reference(item)
        kind = (ref or "").partition("/")[0]
        if ref is None or not _DATA_RE.fullmatch(ref) or not in_patient_compartment(kind):
            raise Unprocessable(
                "A provision.data reference must be a relative reference Type/id to a "
                "resource in the patient's record (e.g. Observation/123).",
                expression=(f"{where}.reference",),
            )
        if types and kind not in types:
            raise Unprocessable(
                f"provision.data names a {kind}, which is not among the provision's classes.",
                expression=(f"{where}.reference",),
            )


def data_references(consent: Mapping[str, Any] | None) -> list[tuple[str, str]]:
    """(type, id) of every resource the Consent's provision.data names (checked content)."""
    provision = (consent or {}).get("provision")
    items = provision.get("data") if isinstance(provision, dict) else None
    out = []
    for ref in map(data_reference, items if isinstance(items, list) else ()):
        if ref is not None:
            kind, _, rid = ref.partition("/")
            out.append((kind, rid))
    return out


def check_data_owned(
    consent: Mapping[str, Any], read: Callable[[str, str], Mapping[str, Any] | None]
) -> None:
    """422 unless every resource the Consent names belongs to its patient, and to no one else.

    ``read`` returns the current resource as the writer may read it (None: absent or hidden),
    so the message is the same whether the resource does not exist or is not the writer's to
    see: a Consent can only share what its patient owns and its writer can see.
    """
    patient = _patient(consent)
    for kind, rid in data_references(consent):
        found = read(kind, rid)
        owners = tuple(f"Patient/{p}" for p in patients_of(dict(found))) if found else ()
        if owners != (patient,):
            raise Unprocessable(
                f"provision.data names {kind}/{rid}, which is not a resource of this Consent's "
                "patient alone; a Consent can share only the patient's own resources.",
                expression=("Consent.provision.data",),
            )


def _check_period(period: Any, path: str) -> None:
    if not isinstance(period, dict):
        return
    for edge in ("start", "end"):
        value = period.get(edge)
        if value is not None and (not isinstance(value, str) or parse_range(value) is None):
            raise Unprocessable(
                f"The provision period {edge} is not a valid dateTime.",
                expression=(f"{path}.period.{edge}",),
            )
    start, end = period_bounds(period)
    if start is not None and end is not None and start > end:
        raise Unprocessable(
            "The provision period starts after it ends.", expression=(f"{path}.period",)
        )


def _check_codes(raw: Mapping[str, Any], path: str) -> None:
    for i, c in enumerate(raw.get("class") or ()):
        code = c.get("code") if isinstance(c, dict) else None
        if (
            not isinstance(c, dict)
            or c.get("system") != CLASS_SYSTEM
            or not isinstance(code, str)
            or not is_resource_type(code)
        ):
            raise Unprocessable(
                f"A provision class must be a FHIR resource type (system {CLASS_SYSTEM}); "
                "other kinds of class are not supported yet.",
                expression=(f"{path}.class[{i}]",),
            )
    for i, c in enumerate(raw.get("securityLabel") or ()):
        if not isinstance(c, dict) or not c.get("system") or not c.get("code"):
            raise Unprocessable(
                "A provision securityLabel needs both a system and a code.",
                expression=(f"{path}.securityLabel[{i}]",),
            )
    for i, c in enumerate(raw.get("purpose") or ()):
        if not isinstance(c, dict) or c.get("system") not in (None, PURPOSE_SYSTEM):
            raise Unprocessable(
                f"A provision purpose must be a PurposeOfUse code ({PURPOSE_SYSTEM}); "
                "other purposes are not supported yet.",
                expression=(f"{path}.purpose[{i}]",),
            )
    for i, concept in enumerate(raw.get("action") or ()):
        codings = concept.get("coding") if isinstance(concept, dict) else None
        if not codings or not all(
            isinstance(c, dict)
            and c.get("system") in (None, ACTION_SYSTEM)
            and c.get("code") in ACTIONS
            for c in codings
        ):
            raise Unprocessable(
                f"A provision action must be coded from {ACTION_SYSTEM} "
                "(collect, access, use, disclose, correct); other actions are not supported yet.",
                expression=(f"{path}.action[{i}]",),
            )


def _check_exception(raw: Mapping[str, Any], parent: Mapping[str, Any], path: str) -> None:
    """A nested provision is an exception to its parent, within its parent's reach."""
    if raw.get("type") == parent.get("type"):
        raise Unprocessable(
            "A nested provision must be an exception to its parent: a deny inside a permit "
            "or a permit inside a deny.",
            expression=(f"{path}.type",),
        )
    child, outer = read_provision(raw, MAX_DEPTH), read_provision(parent, MAX_DEPTH)
    assert child is not None and outer is not None  # both checked above
    for name, mine, theirs in (
        ("actors", child.actors, outer.actors),
        ("classes", child.types, outer.types),
    ):
        if mine and theirs and not mine <= theirs:
            raise Unprocessable(
                f"A nested provision can only narrow its parent: its {name} must be among "
                "the parent's.",
                expression=(path,),
            )
    if (
        child.type == "permit"
        and child.labels
        and not (outer.labels and child.labels <= outer.labels)
    ):
        raise Unprocessable(
            "A permit inside a deny can only name security labels its deny names "
            "(an exception for some labels out of a deny of everything is not supported yet).",
            expression=(f"{path}.securityLabel",),
        )
