"""What the device lets its user do while offline: the verified policy snapshot, enforced locally.

Online, the server decides each access (:mod:`bedside.rest.access`); offline, the device decides
from the signed snapshot (docs/policy-snapshot.md) and must reach the *same* decisions, or an
event recorded offline is rejected at sync (G3) and a clinician finds out hours later. So the
rules below are the server's, read from the claims instead of the database:

* interaction letters per type with ``"*"`` as the fallback: ``c`` to create, ``u`` to update or
  correct, ``r`` to read;
* a confined caller reaches only the patients of ``patients`` entries still running (each
  ``until`` ends its own entry), and only the launch patient when a ``patient`` claim exists;
* break-glass and ``self`` show and allow the whole record; care-team, location and assignment
  the record less sensitive data and less what ``refusals`` withhold; consent shares show only
  what they share (types, labels, ``labels_not``, the named ``resources`` when the consent
  names some; sensitive data only when named) and never
  allow a write, as on the server where consents share data to read only;
* ``filters`` (granular scopes) are evaluated against the resource; a query the device cannot
  evaluate refuses: offline must never allow more than the server would.

And the offline bound (G6): ``normal`` until ``exp``, ``read-only`` for ``grace_seconds`` after
it, ``locked`` after that until the user signs in online again.

Refusals are plain sentences for a clinician, without PHI: they name a resource type, never a
patient, a value or an id. The caller verifies the JWS (:func:`bedside.protocol.snapshot.
verify_snapshot`) *before* building an :class:`OfflinePolicy`, while the snapshot is valid; from
then on the device's clock drives the modes, read as the server's time (the snapshot's times
are the server's; :mod:`bedside.device.clock`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from enum import StrEnum
from functools import cache
from typing import Any, Final

from bedside.device.claims import (
    Entry,
    labels_of,
    parse_entry,
    parse_label,
    parse_settings,
    parse_withheld,
    until_of,
    whole,
)
from bedside.device.errors import DeviceError
from bedside.device.filters import matches_any
from bedside.fhir.compartment import REFERENCE_TYPES, patient_compartment
from bedside.fhir.resource_types import is_resource_type
from bedside.policy.model import Label
from bedside.policy.posture import refuses as posture_refuses
from bedside.protocol.snapshot import NBF_LEEWAY

__all__ = [
    "AUTOMATIC_BASES",
    "LAUNCH",
    "UNCONFINED",
    "Mode",
    "OfflinePolicy",
]


class Mode(StrEnum):
    """How much the device allows now (G6)."""

    NORMAL = "normal"
    READ_ONLY = "read-only"
    LOCKED = "locked"


#: Pseudo-basis of a patient reached because the caller is not confined to particular patients.
UNCONFINED: Final = "unconfined"
#: Pseudo-basis of the launch patient of an unconfined caller whose scopes are all patient/.
LAUNCH: Final = "launch"
#: Bases that put a patient in the working set without a pin (the clinician's own patients).
AUTOMATIC_BASES: Final = frozenset({"care-team", "location", "assignment", "self", LAUNCH})
_WHOLE_RECORD: Final = frozenset({"break-glass", "self"})  # overrides sensitivity and refusals
_RELATIONS: Final = frozenset({"care-team", "location", "assignment"})
_WRITE_LETTERS: Final = {"create": "c", "update": "u", "correct": "u"}

_LOCKED: Final = "This device's offline access has expired. Sign in online to use it again."
_READ_ONLY: Final = (
    "This device's offline access has expired, so you can read but not record until it reconnects."
)
_UNKNOWN_TYPE: Final = "This record is not of a type Bedside knows, so the device refuses it."
_OPEN: Final = "You cannot open this record on this device"
_RECORD: Final = "You cannot record {type} on this device"
_FOR_PATIENT: Final = "You cannot record {type} for this patient on this device"
_ONLY_SOME: Final = "your sign-in covers only some {type} data, and not this."
#: Why a read is refused (keys from the checks below) → the sentence, ``{type}`` filled in.
_READ_REFUSALS: Final = {
    "letters": "You cannot open {type} records on this device: you are not allowed to read them.",
    "filters": f"{_OPEN}: {_ONLY_SOME}",
    "outside": "You cannot open {type} records on this device: they are not part of a "
    "patient's record you can see.",
    "no-patient": f"{_OPEN}: it does not belong to one of your patients.",
    "not-reached": f"{_OPEN}: the patient is not among your patients.",
    "withheld": f"{_OPEN}: it is not shared with you.",
}
#: Why a write is refused → the sentence, ``{type}`` and ``{action}`` filled in.
_WRITE_REFUSALS: Final = {
    "letters": f"{_RECORD}: you are not allowed to {{action}} {{type}}.",
    "reference": f"{_RECORD}: it is shared reference data, changed only online.",
    "filters": f"{_RECORD}: {_ONLY_SOME}",
    "outside": f"{_RECORD}: it is not part of a patient's record you can change.",
    "no-patient": f"{_RECORD}: it must belong to one of your patients.",
    "not-reached": f"{_FOR_PATIENT}: they are not among your patients.",
    "share-only": f"{_FOR_PATIENT}: their record is only shared with you to read.",
    "withheld": f"{_FOR_PATIENT}: your access does not cover this kind of data.",
}


class OfflinePolicy:
    """The claims of one verified snapshot, as offline decisions. Immutable; thread-safe.

    Every ``now`` given is a reading of the device's clock; ``to_server`` turns it into the
    server's time (:meth:`bedside.device.clock.ServerClock.server`), which the snapshot's own
    times (``exp``, ``nbf``, each ``until``) are compared with. Without it, device time is used.
    """

    def __init__(
        self, claims: Mapping[str, Any], to_server: Callable[[float], float] | None = None
    ) -> None:
        self.to_server: Callable[[float], float] = to_server or float
        try:
            self.expires = whole(claims["exp"])
            self.not_before = whole(claims.get("nbf", claims["exp"]))
            self.confined = claims["confined"] is not False
            self.settings = parse_settings(claims.get("offline") or {}, self.expires, claims)
            self.permissions: dict[str, str] = {
                str(k): str(v) for k, v in dict(claims.get("permissions") or {}).items()
            }
            self.filters: dict[str, tuple[str, ...]] = {
                str(k): tuple(map(str, v)) for k, v in dict(claims.get("filters") or {}).items()
            }
            limit = claims.get("patient")
            self.patient_limit: str | None = None if limit is None else str(limit)
            self.pins = frozenset(map(str, claims.get("pins") or ()))
            self._entries = tuple(map(parse_entry, claims.get("patients") or ()))
            grouped: dict[str, list[Entry]] = {}
            for entry in self._entries:
                grouped.setdefault(entry.patient, []).append(entry)
            #: the entries of each patient: a decision looks at one patient's, never all
            self._by_patient = {p: tuple(es) for p, es in grouped.items()}
            self._refusals = tuple(map(parse_withheld, claims.get("refusals") or ()))
            self.sensitive = frozenset(map(parse_label, claims.get("sensitive_labels") or ()))
            self._purpose = tuple(
                (str(p["patient"]), str(p["code"]), until_of(p.get("until")))
                for p in claims.get("purpose") or ()
            )
        except (KeyError, TypeError, ValueError, AttributeError):
            raise DeviceError(
                "The policy snapshot on this device cannot be read. Sign in online to refresh it."
            ) from None
        self.claims = dict(claims)

    # --- modes and reach ----------------------------------------------------------------------

    @property
    def unlimited(self) -> bool:
        """True when no patient limit applies: every patient is reachable (an unconfined role
        or service without a launch patient). ``reachable`` then lists only entries and pins."""
        return not self.confined and self.patient_limit is None

    def mode(self, now: float) -> Mode:
        """``normal`` before ``exp``, ``read-only`` for ``grace_seconds`` after, then ``locked``.

        A clock before ``nbf`` (less the same minute of skew as the verifier) is locked too: a
        device clock wound back must not stretch a snapshot's life.
        """
        at = self.to_server(now)
        if at + NBF_LEEWAY < self.not_before:
            return Mode.LOCKED
        if at < self.expires:
            return Mode.NORMAL
        if at < self.expires + self.settings.grace_seconds:
            return Mode.READ_ONLY
        return Mode.LOCKED

    def reachable(self, now: float) -> dict[str, list[str]]:
        """Patient id → the bases (sorted) of the entries still running at ``now``.

        An unlimited policy (see :attr:`unlimited`) reaches every patient; its pins are listed
        here with the pseudo-basis ``unconfined`` so that they can join the working set.
        """
        out: dict[str, set[str]] = {}
        if not self.confined:
            if self.patient_limit:
                out[self.patient_limit] = {LAUNCH}
            elif self.patient_limit is None:
                for pin in self.pins:
                    out[pin] = {UNCONFINED}
        for entry in self._running(self.to_server(now)):
            out.setdefault(entry.patient, set()).add(entry.basis)
        return {p: sorted(b) for p, b in sorted(out.items())}

    def reaches(self, patient: str, now: float) -> bool:
        """Whether ``patient`` may be on the device at all at ``now`` (by any basis): the same
        answer as ``patient in reachable(now)``, from that patient's entries alone."""
        if self.unlimited:
            return True
        if not self.confined and self.patient_limit and patient == self.patient_limit:
            return True
        return bool(self._running_for(patient, self.to_server(now)))

    def working_set(self, now: float, pinned: Iterable[str] = ()) -> set[str]:
        """The patients the device keeps: reached by an automatic basis (care team, location,
        assignment, self, launch), plus ``pinned`` ones still reachable by any basis."""
        reach = self.reachable(now)
        chosen = {p for p, bases in reach.items() if AUTOMATIC_BASES.intersection(bases)}
        chosen.update(p for p in pinned if p and (p in reach or self.unlimited))
        return chosen

    def purpose(self, patient: str, now: float) -> str | None:
        """``BTG`` while a break-glass purpose rule covers ``patient``: every access to their
        data must then be recorded with that purposeOfUse (v3-ActReason)."""
        at = self.to_server(now)
        for who, code, until in self._purpose:
            if who == patient and (until is None or until > at):
                return code
        return None

    def letters(self, rtype: str) -> str:
        """The interaction letters on ``rtype``: its own entry, else ``"*"``."""
        return self.permissions.get(rtype, self.permissions.get("*", ""))

    # --- decisions ----------------------------------------------------------------------------

    def refuse_read(
        self, resource: Mapping[str, Any], patient: str | None, now: float
    ) -> str | None:
        """None when the user may open ``resource`` (of ``patient``, None when it belongs to no
        patient) at ``now``; else a sentence saying why not."""
        if self.mode(now) is Mode.LOCKED:
            return _LOCKED
        rtype = resource.get("resourceType")
        if not isinstance(rtype, str) or not is_resource_type(rtype):
            return _UNKNOWN_TYPE
        if "r" not in self.letters(rtype):
            why: str | None = "letters"
        elif not self._passes_filters(rtype, resource):
            why = "filters"
        elif rtype in REFERENCE_TYPES:
            why = None  # shared reference data, not any patient's: confinement does not apply
        else:
            ref = f"{rtype}/{resource.get('id')}"
            at = self.to_server(now)
            why = self._reach(rtype, labels_of(resource), patient, at, write=False, ref=ref)
        return None if why is None else _READ_REFUSALS[why].format(type=rtype)

    def refuse_write(
        self, action: str, resource: Mapping[str, Any], patient: str | None, now: float
    ) -> str | None:
        """None when the user may record ``action`` (create, update, correct) of ``resource``
        for ``patient`` at ``now``; else a sentence saying why not."""
        mode = self.mode(now)
        if mode is not Mode.NORMAL:
            return _LOCKED if mode is Mode.LOCKED else _READ_ONLY
        letter = _WRITE_LETTERS.get(action)
        if letter is None:
            return "This device records only create, update and correct actions."
        local = self.claims.get("local_posture")  # bedside.device.compliance
        if isinstance(local, Mapping):
            step, reasons = str(local.get("step")), list(local.get("reasons") or ())
            blocked = posture_refuses(step, reasons, action, resource)
            if blocked is not None:
                return blocked
        rtype = resource.get("resourceType")
        if not isinstance(rtype, str) or not is_resource_type(rtype):
            return _UNKNOWN_TYPE
        if letter not in self.letters(rtype):
            why: str | None = "letters"
        elif rtype in REFERENCE_TYPES:
            why = "reference"  # read-only on device (BRIEF conflict classes)
        elif not self._passes_filters(rtype, resource):
            why = "filters"
        else:
            why = self._reach(rtype, labels_of(resource), patient, self.to_server(now), write=True)
        return None if why is None else _WRITE_REFUSALS[why].format(type=rtype, action=action)

    # --- internals: ``at`` is the server's time -----------------------------------------------

    def _running(self, at: float) -> list[Entry]:
        """Entries still running, limited to the launch patient when there is a limit."""
        return [
            e
            for e in self._entries
            if (e.until is None or e.until > at)
            and (self.patient_limit is None or e.patient == self.patient_limit)
        ]

    def _running_for(self, patient: str, at: float) -> list[Entry]:
        """The running entries of one patient (as ``_running``, without walking the others)."""
        if self.patient_limit is not None and patient != self.patient_limit:
            return []
        return [e for e in self._by_patient.get(patient, ()) if e.until is None or e.until > at]

    def _reach(
        self,
        rtype: str,
        labels: frozenset[Label],
        patient: str | None,
        at: float,
        *,
        write: bool,
        ref: str | None = None,
    ) -> str | None:
        """None when some basis admits the data, else why not (a key the caller words).

        Mirrors ``Access._groups``/``_filters``: whole-record bases first, then relations
        (less sensitive labels and refusals), then consent shares, which only ever admit reads.
        """
        if self.unlimited:
            return None
        if patient is None:
            return "no-patient"
        if _outside_compartment(rtype):
            return "outside"  # types outside the Patient compartment: invisible when confined
        if not self.confined:
            return None if patient == self.patient_limit else "not-reached"
        entries = self._running_for(patient, at)
        if not entries:
            return "not-reached"
        if any(e.basis in _WHOLE_RECORD for e in entries):
            return None
        withheld, refused = self._refused(rtype, patient, at)
        related = any(e.basis in _RELATIONS for e in entries)
        if related and not withheld and not labels & (self.sensitive | refused):
            return None
        shares = [e for e in entries if e.basis == "consent"]
        if write:
            return "share-only" if shares and not related else "withheld"
        for share in shares:
            if withheld or (share.types is not None and rtype not in share.types):
                continue
            if share.resources is not None and ref not in share.resources:
                continue  # a share of particular resources, not this one
            if share.labels is not None and not labels & share.labels:
                continue
            hidden = (self.sensitive - (share.labels or frozenset())) | share.labels_not | refused
            if not labels & hidden:
                return None
        return "withheld"

    def _refused(self, rtype: str, patient: str, at: float) -> tuple[bool, frozenset[Label]]:
        """(the type is withheld whole, labels withheld) by the refusals running at ``at``."""
        labels: set[Label] = set()
        for r in self._refusals:
            if r.patient != patient or (r.until is not None and r.until <= at):
                continue
            if r.types is not None and rtype not in r.types:
                continue
            if r.labels is None:
                return True, frozenset()
            labels |= r.labels
        return False, frozenset(labels)

    def _passes_filters(self, rtype: str, resource: Mapping[str, Any]) -> bool:
        """True when no granular-scope filter applies, or the resource matches one of them.

        A type listed in ``permissions`` has its own filters or none; an unlisted type falls
        back to the ``"*"`` filters (when the claims cannot tell, the stricter reading).
        """
        queries = self.filters.get(rtype)
        if queries is None and rtype not in self.permissions:
            queries = self.filters.get("*")
        return queries is None or matches_any(rtype, resource, queries)


@cache
def _outside_compartment(rtype: str) -> bool:
    """Whether ``rtype`` has no Patient compartment parameter the index holds (then no patient's
    data of that type is visible to a confined caller); a property of the type alone."""
    return patient_compartment(rtype, "any").empty
