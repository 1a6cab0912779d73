"""The values access decisions are made of: labels, consent shares and refusals, patient access.

Consent evaluation (:mod:`bedside.consent.evaluate`) produces :class:`Share` and :class:`Refusal`
values for one actor at one instant; relationship lookups produce :class:`PatientAccess` values;
:class:`AccessView` gathers them for one caller and request. None of these touch the database.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["BASES", "AccessView", "Label", "PatientAccess", "Refusal", "Share"]

#: A security label as (system, code), e.g. (v3-Confidentiality system, "R").
Label = tuple[str, str]


@dataclass(frozen=True, slots=True)
class Share:
    """Data of ``patient`` that one consent's permit lets an actor see, until ``until``.

    A resource is shared when its type is in ``types`` (None: every type), it carries one of
    ``labels_any`` (None: no requirement) and none of ``labels_not`` (the consent's nested
    denies). Sensitive data is shared only when its sensitive labels are all in ``labels_any``:
    a consent must name sensitive data to share it. ``ids`` (None: any resource) limits the
    share to the named resources (``Observation/<id>``, from ``provision.data``): a single
    result shared with one practitioner.
    """

    patient: str
    source: str  # "Consent/<id>"
    types: frozenset[str] | None = None
    labels_any: frozenset[Label] | None = None
    labels_not: frozenset[Label] = frozenset()
    until: float | None = None  # UNIX seconds; None: open-ended
    ids: frozenset[str] | None = None  # "Type/id" references; None: not limited to resources

    def ids_of(self, rtype: str) -> frozenset[str] | None:
        """The ids of ``rtype`` the share is limited to (None: not limited; empty: none)."""
        if self.ids is None:
            return None
        return frozenset(r.partition("/")[2] for r in self.ids if r.partition("/")[0] == rtype)


@dataclass(frozen=True, slots=True)
class Refusal:
    """Data of ``patient`` a consent's deny withholds from an actor (deny wins over care-team
    access and over shares; only break-glass overrides it).

    Withholds resources of ``types`` (None: every type) that carry one of ``labels_any`` (None:
    whatever their labels).
    """

    patient: str
    source: str
    types: frozenset[str] | None = None
    labels_any: frozenset[Label] | None = None
    until: float | None = None


#: Why a practitioner may see a patient.
BASES = ("care-team", "location", "assignment", "consent", "break-glass", "self")


@dataclass(frozen=True, slots=True)
class PatientAccess:
    """One reason a caller may see one patient's record, and until when (None: while it lasts)."""

    patient: str
    basis: str  # one of BASES
    source: str  # CareTeam/<id>, Encounter/<id>, assignment, Consent/<id>, break-glass/<id>
    until: float | None = None


@dataclass(frozen=True, slots=True)
class AccessView:
    """Everything policy says about one caller at one instant.

    ``confined`` False means the caller is not limited to particular patients (services with
    ``system/`` scopes). Otherwise the caller sees only the patients in ``relations`` (full
    record less sensitive data and refusals), ``glass`` (break-glass: everything) and
    ``shares`` (what consents share with them).
    """

    role: str | None
    confined: bool
    permissions: dict[str, frozenset[str]]  # resource type or "*" -> interaction letters
    relations: tuple[PatientAccess, ...] = ()
    glass: tuple[PatientAccess, ...] = ()
    shares: tuple[Share, ...] = ()
    refusals: tuple[Refusal, ...] = ()
    sensitive: frozenset[Label] = frozenset()
    now: float = 0.0

    def letters(self, rtype: str) -> frozenset[str]:
        """The interaction letters (c r u d s) the role allows on ``rtype``."""
        return self.permissions.get(rtype, self.permissions.get("*", frozenset()))

    def glass_patients(self) -> frozenset[str]:
        return frozenset(a.patient for a in self.glass)
