"""What privacy Consents let one actor see at one instant (consent.html#provision).

:func:`shares_for` turns Consent resources into :class:`~bedside.policy.model.Share` values (data
a permit lets the actor see) and :class:`~bedside.policy.model.Refusal` values (data a deny
withholds from them). It is pure: the caller loads the patient's current Consents and names the
actor by every reference that stands for them (``Practitioner/9``, ``PractitionerRole/3``, the
care teams they belong to, ...).

Semantics (docs/consent.md has the long form):

* A Consent counts only when it is ``active``, its scope is ``patient-privacy`` and its root
  ``provision.period`` contains ``now``.
* A provision *applies* to the actor when its actor list is empty or names one of ``actors``,
  its purpose list is empty or holds ``purpose`` (or a purpose that includes it, e.g. TREAT
  includes ETREAT), its action list is empty or holds access, use or disclose, and its period
  (if any) contains ``now``.
* Root permit → one Share: types from ``class``, ``labels_any`` from ``securityLabel``, ``until``
  the period end, ``ids`` from ``provision.data`` (meaning ``instance``; its types then also
  limit ``types``), so a share of one result is a Share of exactly that resource. Each nested
  deny that applies subtracts: labels only → ``labels_not``; types only → those types leave the
  share; both → the share is split so the labels are excluded from
  those types only; neither → the share is gone.
* Root deny → one Refusal over its types and labels (deny wins over everything but break-glass).
  Each nested permit that applies carves an exception: it becomes a Share (within the deny's
  scope) and its part is taken out of the Refusal.
* A nested provision leaves unstated what its parent states: no ``class`` means the parent's
  types, no ``securityLabel`` the parent's labels, no actors the parent's actors.
* Nesting is limited to :data:`MAX_DEPTH` levels (root + one level of exceptions);
  :mod:`bedside.consent.rules` refuses deeper nesting, so nothing stored is ignored.

Times are UNIX seconds. A period end covers the whole of its precision (``2026-12-21`` ends at
23:59:59.999 UTC), following :func:`bedside.fhir.dates.parse_range`.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any, Final, TypeVar

from bedside.fhir.dates import parse_range
from bedside.fhir.resource_types import RESOURCE_TYPES
from bedside.policy.model import Label, Refusal, Share

__all__ = [
    "ACTION_SYSTEM",
    "ALL_TYPES",
    "CLASS_SYSTEM",
    "MAX_DEPTH",
    "PRIVACY",
    "PURPOSE_SYSTEM",
    "SCOPE_SYSTEM",
    "SEEING",
    "Grant",
    "Provision",
    "actor_reference",
    "data_reference",
    "grants",
    "inherit",
    "is_privacy",
    "patient_id",
    "period_bounds",
    "read_provision",
    "shares_for",
]

_T = TypeVar("_T")

#: Levels of provisions evaluated: the root and one level of nested exceptions.
MAX_DEPTH: Final = 2

SCOPE_SYSTEM: Final = "http://terminology.hl7.org/CodeSystem/consentscope"
PRIVACY: Final = "patient-privacy"
CLASS_SYSTEM: Final = "http://hl7.org/fhir/resource-types"
ACTION_SYSTEM: Final = "http://terminology.hl7.org/CodeSystem/consentaction"
PURPOSE_SYSTEM: Final = "http://terminology.hl7.org/CodeSystem/v3-ActReason"
#: Actions that are about seeing data (consentaction: collect and correct are not).
SEEING: Final = frozenset({"access", "use", "disclose"})
ALL_TYPES: Final = RESOURCE_TYPES

#: PurposeOfUse specializations (v3 ActReason): a provision for TREAT also covers ETREAT.
_BROADER: Final[Mapping[str, str]] = {
    "ETREAT": "TREAT",
    "BTG": "ETREAT",
    "CLINTRL": "TREAT",
    "POPHLTH": "TREAT",
    "CAREMGT": "HOPERAT",
}


@dataclass(frozen=True, slots=True)
class Provision:
    """One Consent.provision as Bedside reads it; ``None`` types/labels mean "not limited"."""

    type: str
    actors: frozenset[str] = frozenset()
    purposes: frozenset[str] = frozenset()
    actions: frozenset[str] = frozenset()
    start: float | None = None
    end: float | None = None
    types: frozenset[str] | None = None
    labels: frozenset[Label] | None = None
    nested: tuple[Provision, ...] = ()
    #: ``provision.data`` references (meaning instance) as ``Type/id``; None: not limited
    data: frozenset[str] | None = None

    def in_period(self, now: float) -> bool:
        return (self.start is None or self.start <= now) and (self.end is None or now <= self.end)

    def applies(self, actors: Collection[str], purpose: str) -> bool:
        """Whether this provision speaks to this actor, purpose and the seeing actions."""
        return (
            (not self.actors or any(a in self.actors for a in actors))
            and (not self.purposes or bool(self.purposes & _with_broader(purpose)))
            and (not self.actions or bool(self.actions & SEEING))
        )


@dataclass(frozen=True, slots=True)
class Grant:
    """What one permit of a Consent opened up: the entry a revocation or expiry withdraws.

    Empty ``actors`` means everyone, ``types`` None every type, ``labels`` None any labels.
    """

    actors: frozenset[str]
    types: frozenset[str] | None
    labels: frozenset[Label] | None


def _with_broader(purpose: str) -> frozenset[str]:
    out = {purpose}
    while purpose in _BROADER:
        purpose = _BROADER[purpose]
        out.add(purpose)
    return frozenset(out)


def _codings(value: Any) -> list[dict[str, Any]]:
    """The codings of a list of Codings or of a CodeableConcept (or list of them)."""
    items = value if isinstance(value, list) else [value] if isinstance(value, dict) else []
    out: list[dict[str, Any]] = []
    for item in items:
        if isinstance(item, dict) and isinstance(item.get("coding"), list):
            out.extend(c for c in item["coding"] if isinstance(c, dict))
        elif isinstance(item, dict):
            out.append(item)
    return out


def is_privacy(consent: Mapping[str, Any]) -> bool:
    """Whether the Consent's scope is patient-privacy (consentscope)."""
    return any(
        c.get("system") == SCOPE_SYSTEM and c.get("code") == PRIVACY
        for c in _codings(consent.get("scope"))
    )


def patient_id(consent: Mapping[str, Any]) -> str | None:
    """The id in ``Consent.patient`` (``Patient/<id>``), or None."""
    ref = (consent.get("patient") or {}).get("reference")
    if isinstance(ref, str) and ref.startswith("Patient/") and len(ref) > len("Patient/"):
        return ref[len("Patient/") :]
    return None


def actor_reference(actor: Any) -> str | None:
    """``provision.actor.reference.reference`` (e.g. ``Practitioner/9``), or None."""
    ref = (actor.get("reference") or {}).get("reference") if isinstance(actor, dict) else None
    return ref if isinstance(ref, str) else None


def data_reference(item: Any) -> str | None:
    """``provision.data.reference.reference`` of an ``instance`` entry (``Observation/1``), or
    None (:mod:`bedside.consent.rules` refuses every other meaning, so none is stored)."""
    if not isinstance(item, dict) or item.get("meaning") != "instance":
        return None
    ref = (item.get("reference") or {}).get("reference")
    return ref if isinstance(ref, str) and "/" in ref else None


def period_bounds(period: Any) -> tuple[float | None, float | None]:
    """(start, end) in UNIX seconds; each end covers its whole precision. None: unbounded."""
    if not isinstance(period, dict):
        return None, None
    start = parse_range(period["start"]) if isinstance(period.get("start"), str) else None
    end = parse_range(period["end"]) if isinstance(period.get("end"), str) else None
    return (start[0] / 1000 if start else None, end[1] / 1000 if end else None)


def read_provision(raw: Any, depth: int = 1) -> Provision | None:
    """Parse a Consent.provision (None when there is none); nesting past MAX_DEPTH is dropped
    here because :mod:`bedside.consent.rules` never lets it be stored."""
    if not isinstance(raw, dict) or raw.get("type") not in ("permit", "deny"):
        return None
    start, end = period_bounds(raw.get("period"))
    actors = frozenset(r for r in map(actor_reference, raw.get("actor") or ()) if r)
    types = frozenset(
        c["code"] for c in _codings(raw.get("class")) if isinstance(c.get("code"), str)
    )
    labels = frozenset(
        (c["system"], c["code"])
        for c in _codings(raw.get("securityLabel"))
        if isinstance(c.get("system"), str) and isinstance(c.get("code"), str)
    )
    data: frozenset[str] | None = None
    if raw.get("data"):
        # Only the named resources, within ``class`` when both are given. An empty set (none
        # readable) still limits: it shares nothing, never everything.
        data = frozenset(
            r
            for r in map(data_reference, raw["data"])
            if r and (not types or r.partition("/")[0] in types)
        )
        types = frozenset(r.partition("/")[0] for r in data)
    nested: tuple[Provision, ...] = ()
    if depth < MAX_DEPTH:
        nested = tuple(
            p for sub in raw.get("provision") or () if (p := read_provision(sub, depth + 1))
        )
    return Provision(
        type=raw["type"],
        actors=actors,
        purposes=frozenset(
            c["code"]
            for c in _codings(raw.get("purpose"))
            if c.get("system") in (None, PURPOSE_SYSTEM) and isinstance(c.get("code"), str)
        ),
        actions=frozenset(
            c["code"]
            for c in _codings(raw.get("action"))
            if c.get("system") in (None, ACTION_SYSTEM) and isinstance(c.get("code"), str)
        ),
        start=start,
        end=end,
        types=types or None,
        labels=labels or None,
        nested=nested,
        data=data,
    )


def inherit(child: Provision, parent: Provision) -> Provision | None:
    """``child`` with what it leaves unstated taken from ``parent``, and narrowed to it.

    None when the child names only types or labels outside its parent: it then covers nothing.
    """
    types = _meet(child.types, parent.types)
    labels = _meet(child.labels, parent.labels)
    if types == frozenset() or labels == frozenset():
        return None
    return replace(child, actors=child.actors or parent.actors, types=types, labels=labels)


def _meet(a: frozenset[_T] | None, b: frozenset[_T] | None) -> frozenset[_T] | None:
    if a is None:
        return b
    return a if b is None else a & b


def grants(consent: Mapping[str, Any]) -> list[Grant]:
    """What the Consent's permits open up: the root permit, or the exceptions of a root deny.

    A revocation withdraws each of these whole (nested denies inside a permit only made it
    smaller, so dropping the permit's whole scope is always enough).
    """
    root = read_provision(consent.get("provision"))
    if root is None:
        return []
    if root.type == "permit":
        return [Grant(root.actors, root.types, root.labels)]
    out = []
    for sub in root.nested:
        n = inherit(sub, root) if sub.type == "permit" else None
        if n is not None:
            out.append(Grant(n.actors, n.types, n.labels))
    return out


def shares_for(
    consents: Iterable[Mapping[str, Any]],
    actors: Collection[str],
    now: float,
    *,
    purpose: str = "TREAT",
) -> tuple[list[Share], list[Refusal]]:
    """The Shares and Refusals the given Consents (current versions) hold for this actor now."""
    shares: list[Share] = []
    refusals: list[Refusal] = []
    for consent in consents:
        patient = patient_id(consent)
        root = read_provision(consent.get("provision"))
        if (
            consent.get("status") != "active"
            or not is_privacy(consent)
            or patient is None
            or root is None
            or not root.in_period(now)
            or not root.applies(actors, purpose)
        ):
            continue
        source = f"Consent/{consent.get('id')}"
        nested = [n for sub in root.nested if (n := inherit(sub, root)) is not None]
        speaking = [n for n in nested if n.applies(actors, purpose)]
        if root.type == "permit":
            shares.extend(_permit(root, speaking, patient, source, now))
        else:
            s, r = _deny(root, speaking, patient, source, now)
            shares.extend(s)
            refusals.extend(r)
    return shares, refusals


@dataclass(frozen=True, slots=True)
class _Piece:
    types: frozenset[str] | None
    labels_any: frozenset[Label] | None
    labels_not: frozenset[Label] = frozenset()


def _split(
    types: frozenset[str] | None, cut: frozenset[str] | None
) -> tuple[frozenset[str] | None, frozenset[str]]:
    """(inside, outside): ``types`` within ``cut`` and the rest (None is every type)."""
    if cut is None:
        return types, frozenset()
    if types is None:
        return cut, ALL_TYPES - cut
    return types & cut, types - cut


def _permit(
    root: Provision, denies: list[Provision], patient: str, source: str, now: float
) -> list[Share]:
    pieces = [_Piece(root.types, root.labels)]
    until = root.end
    for deny in denies:
        if deny.type != "deny":
            continue
        if deny.start is not None and deny.start > now:
            # Not in force yet: the share as it stands is good only until the deny starts.
            until = min(until, deny.start - 0.001) if until is not None else deny.start - 0.001
            continue
        if not deny.in_period(now):
            continue
        pieces = [q for p in pieces for q in _deny_piece(p, deny)]
    return [
        Share(patient, source, p.types, p.labels_any, p.labels_not, until, root.data)
        for p in pieces
        if not (p.labels_any is not None and p.labels_any <= p.labels_not)  # nothing left
    ]


def _deny_piece(piece: _Piece, deny: Provision) -> list[_Piece]:
    inside, outside = _split(piece.types, deny.types)
    if inside is not None and not inside:
        return [piece]  # the deny is about other types
    out = [replace(piece, types=outside)] if outside else []
    if deny.labels is not None:
        out.append(replace(piece, types=inside, labels_not=piece.labels_not | deny.labels))
    return out


def _deny(
    root: Provision, permits: list[Provision], patient: str, source: str, now: float
) -> tuple[list[Share], list[Refusal]]:
    shares: list[Share] = []
    pieces = [_Piece(root.types, root.labels)]
    for permit in permits:
        if permit.type != "permit" or not permit.in_period(now):
            continue
        ends = [t for t in (root.end, permit.end) if t is not None]
        shares.append(
            Share(patient, source, permit.types, permit.labels, until=min(ends) if ends else None)
        )
        pieces = [q for p in pieces for q in _carve(p, permit)]
    refusals = [Refusal(patient, source, p.types, p.labels_any, root.end) for p in pieces]
    return shares, refusals


def _carve(piece: _Piece, permit: Provision) -> list[_Piece]:
    """What of a refused piece is still refused once ``permit`` is excepted from it."""
    inside, outside = _split(piece.types, permit.types)
    if inside is not None and not inside:
        return [piece]
    rest = [replace(piece, types=outside)] if outside else []
    if permit.labels is None or (
        piece.labels_any is not None and piece.labels_any <= permit.labels
    ):
        return rest  # the permit covers every refused label of these types
    if piece.labels_any is None:
        # "every label but these" is not a Refusal; keep refusing (deny wins). rules.py refuses
        # such Consents, so this only guards data written before that rule.
        return [piece]
    return [*rest, replace(piece, types=inside, labels_any=piece.labels_any - permit.labels)]
