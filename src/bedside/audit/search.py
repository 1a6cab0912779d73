"""AuditEvent read and search, served read-only from the audit tables.

AuditEvents are not stored as ordinary resources: the chain (``audit_log``) is their only copy,
so the FHIR search engine does not see them and this module answers ``GET AuditEvent/{n}`` and
``GET AuditEvent?...`` itself, with SQL on the audit indexes (``audit_patients`` for
``patient``, ``audit_log_user`` / ``_subject`` / ``_device`` / ``_time`` for the rest).
Results are newest first; ``_cursor`` continues below a position.

Two audiences:

* auditors: every parameter over the whole log;
* a patient reading who accessed their record (``patient_only``): only events that concern
  them. A ``patient=`` naming anyone else returns an empty Bundle, the same answer as for a
  patient nobody looked at, and each event shows only the entities of their own record: their
  Patient entity, and the resources whose stored version (``compartments``) is in their
  compartment. Other patients, resources of other patients or of nobody (reference data), ones
  whose patient is unknown, and the search query (which may name other people) are removed.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any, Final
from urllib.parse import urlencode

import orjson

from bedside.audit.event import OBJECT_ROLE
from bedside.errors import InvalidRequest
from bedside.fhir.compartment import PATIENT_COMPARTMENT
from bedside.fhir.dates import parse_range
from bedside.numerals import is_number
from bedside.store.base import Records

DEFAULT_COUNT: Final = 50
MAX_COUNT: Final = 1000
PARAMETERS: Final = (
    "patient",
    "agent",
    "device",
    "date",
    "outcome",
    "subtype",
    "action",
    "purpose",
    "_count",
    "_cursor",
)
_DATE_PREFIXES: Final = ("eq", "ge", "le", "gt", "lt")
_MAX_N: Final = (1 << 63) - 1
_PURPOSE: Final = re.compile(r"[A-Za-z0-9.-]{1,64}")

Condition = tuple[str, list[object]]

#: Whose record a stored version is in: (type, id, version, or None for the current one) ->
#: the patients' ids, or None when nothing is stored (``bedside.rest.targets.stored_patients``).
Compartments = Callable[[str, str, int | None], tuple[str, ...] | None]


def _values(raw: str) -> list[str]:
    """The comma-separated alternatives of one parameter (FHIR search.html#combining: OR)."""
    return [v.strip() for v in raw.split(",") if v.strip()]


def _code(value: str) -> str:
    """A token's code, accepting ``system|code`` as well as ``code``."""
    return value.rpartition("|")[2]


class AuditSearch:
    """AuditEvent queries over one :class:`Records`; ``base`` is the FHIR base URL.

    ``compartments`` tells a patient's view which resources are in their record; without it
    that view shows no resource but their own Patient and the AuditEvents about them."""

    def __init__(
        self, records: Records, base: str, compartments: Compartments | None = None
    ) -> None:
        self.records = records
        self.base = base.rstrip("/")
        self.compartments = compartments
        self._theirs: dict[tuple[str, str], bool] = {}  # (reference, patient) -> in their record

    # --- read ---------------------------------------------------------------------------------

    def read(self, n_text: str, *, patient_only: str | None = None) -> dict[str, Any] | None:
        """AuditEvent/{n}, or None when there is no such event (or, for ``patient_only``, when
        it does not concern that patient: to them both look the same)."""
        if not is_number(n_text) or len(n_text) > 18:
            return None
        n = int(n_text)
        if patient_only is not None:
            row = self.records.one(
                "SELECT l.content FROM audit_log l JOIN audit_patients p ON p.n = l.n"
                " WHERE l.n = ? AND p.patient = ?",
                (n, patient_only),
            )
        else:
            row = self.records.one("SELECT content FROM audit_log WHERE n = ?", (n,))
        if row is None:
            return None
        return self._shown(bytes(row[0]), patient_only)

    # --- search -------------------------------------------------------------------------------

    def search(
        self, params: Sequence[tuple[str, str]], *, patient_only: str | None = None
    ) -> dict[str, Any]:
        """A searchset Bundle of the matching AuditEvents, newest first (FHIR search.html)."""
        count, cursor = DEFAULT_COUNT, _MAX_N
        conditions: list[Condition] = []
        for name, raw in params:
            if name not in _BUILDERS and name not in ("_count", "_cursor"):
                known = ", ".join(PARAMETERS)
                raise InvalidRequest(
                    f"AuditEvent does not support the search parameter {name!r}; use {known}.",
                    code="not-supported",
                )
            if name == "_count":
                count = _count(raw)
            elif name == "_cursor":
                cursor = _cursor(raw)
            elif name == "patient" and patient_only is not None and _names_other(raw, patient_only):
                return self._bundle(params, [], 0, None)  # someone else's: as if nobody looked
            else:
                conditions.append(_BUILDERS[name](_values(raw)))
        if patient_only is not None:
            conditions.append(_patient([patient_only]))
        where = " AND ".join(c[0] for c in conditions) or "1 = 1"
        args = [a for c in conditions for a in c[1]]
        rows = self.records.rows(
            f"SELECT l.n, l.content FROM audit_log l WHERE {where} AND l.n < ?"
            " ORDER BY l.n DESC LIMIT ?",
            (*args, cursor, count + 1),
        )
        total = self._total(where, args, bool(conditions))
        more = int(rows[count - 1][0]) if len(rows) > count and count > 0 else None
        shown = [(int(r[0]), self._shown(bytes(r[1]), patient_only)) for r in rows[:count]]
        return self._bundle(params, shown, total, more)

    def _total(self, where: str, args: list[object], filtered: bool) -> int:
        if not filtered:  # positions are contiguous from 1: the head's n is the count
            head = self.records.one("SELECT n FROM audit_head WHERE id = 1")
            return int(head[0]) if head else 0
        row = self.records.one(f"SELECT COUNT(*) FROM audit_log l WHERE {where}", args)
        return int(row[0]) if row else 0

    def _shown(self, content: bytes, patient_only: str | None) -> dict[str, Any]:
        event: dict[str, Any] = orjson.loads(content)
        if patient_only is not None:
            event["entity"] = [e for e in event.get("entity", []) if self._kept(e, patient_only)]
            if not event["entity"]:
                del event["entity"]
        return event

    def _kept(self, entity: dict[str, Any], own: str) -> bool:
        """Whether a patient's view shows ``entity``: only what is of their own record."""
        role = entity.get("role") or {}
        ref = (entity.get("what") or {}).get("reference")
        if role.get("system") != OBJECT_ROLE or not isinstance(ref, str):
            return False
        if role.get("code") == "1":  # the event's link to a patient: theirs only
            return ref == f"Patient/{own}"
        if role.get("code") != "4":  # the query may name other people; nothing else is theirs
            return False
        key = (ref, own)
        if key not in self._theirs:
            self._theirs[key] = self._in_record(ref, own)
        return self._theirs[key]

    def _in_record(self, ref: str, own: str) -> bool:
        """``Type/id`` or ``Type/id/_history/v``: in the compartment of ``Patient/own``?"""
        parts = ref.split("/")
        if len(parts) not in (2, 4) or (len(parts) == 4 and parts[2] != "_history"):
            return False
        rtype, rid = parts[0], parts[1]
        if rtype == "Patient":  # their own Patient; never another one, linked or not
            return rid == own
        if rtype == "AuditEvent":  # not a stored resource: the audit index says whose it is
            return is_number(rid) and len(rid) <= 18 and self._concerns(int(rid), own)
        if rtype not in PATIENT_COMPARTMENT or self.compartments is None:
            return False  # reference data is nobody's record; unknown is not theirs
        v = parts[3] if len(parts) == 4 else ""
        version = int(v) if is_number(v) and len(v) <= 9 else None
        return own in (self.compartments(rtype, rid, version) or ())

    def _concerns(self, n: int, own: str) -> bool:
        row = self.records.one("SELECT 1 FROM audit_patients WHERE n = ? AND patient = ?", (n, own))
        return row is not None

    def _bundle(
        self,
        params: Sequence[tuple[str, str]],
        shown: list[tuple[int, dict[str, Any]]],
        total: int,
        more: int | None,
    ) -> dict[str, Any]:
        kept = [(k, v) for k, v in params if k != "_cursor"]
        links = [{"relation": "self", "url": self._url(params)}]
        if more is not None:
            links.append({"relation": "next", "url": self._url([*kept, ("_cursor", str(more))])})
        return {
            "resourceType": "Bundle",
            "type": "searchset",
            "total": total,
            "link": links,
            "entry": [
                {
                    "fullUrl": f"{self.base}/AuditEvent/{n}",
                    "resource": event,
                    "search": {"mode": "match"},
                }
                for n, event in shown
            ],
        }

    def _url(self, params: Sequence[tuple[str, str]]) -> str:
        query = urlencode(list(params))
        return f"{self.base}/AuditEvent" + (f"?{query}" if query else "")


def _count(raw: str) -> int:
    if not is_number(raw.strip()):
        raise InvalidRequest("_count must be a whole number from 0 to 1000.")
    return min(int(raw), MAX_COUNT)


def _cursor(raw: str) -> int:
    if not is_number(raw.strip()) or len(raw.strip()) > 18:
        raise InvalidRequest("_cursor must be the position given in a next link.")
    return int(raw)


def _names_other(raw: str, own: str) -> bool:
    return any(_patient_id(v) != own for v in _values(raw))


def _patient_id(value: str) -> str:
    """``Patient/x``, ``x`` or an absolute ``.../Patient/x`` → ``x``."""
    _, sep, rid = value.rpartition("Patient/")
    return rid if sep else value


def _any_in(column: str, values: list[str]) -> Condition:
    marks = ", ".join("?" for _ in values)
    return f"{column} IN ({marks})", list(values)


def _need(name: str, values: list[str]) -> list[str]:
    if not values:
        raise InvalidRequest(f"The search parameter {name} needs a value.")
    return values


def _patient(values: list[str]) -> Condition:
    ids = [_patient_id(v) for v in _need("patient", values)]
    marks = ", ".join("?" for _ in ids)
    return f"l.n IN (SELECT n FROM audit_patients WHERE patient IN ({marks}))", list(ids)


def _agent(values: list[str]) -> Condition:
    """A user (``Practitioner/9``, also as an absolute URL) or a token subject / user id."""
    refs = []
    for v in _need("agent", values):
        parts = v.rstrip("/").split("/")
        refs.append("/".join(parts[-2:]) if len(parts) >= 2 else v)
    marks = ", ".join("?" for _ in refs)
    return f"(l.user_ref IN ({marks}) OR l.subject IN ({marks}))", [*refs, *values]


def _device(values: list[str]) -> Condition:
    return _any_in("l.device", [v.removeprefix("Device/") for v in _need("device", values)])


def _date(values: list[str]) -> Condition:
    """``recorded`` is an instant; a date value covers a range (date precision is fine)."""
    ors: list[str] = []
    args: list[object] = []
    for v in _need("date", values):
        prefix, text = (v[:2], v[2:]) if v[:2].isalpha() else ("eq", v)
        span = parse_range(text)
        if prefix not in _DATE_PREFIXES or span is None:
            raise InvalidRequest(
                f"date must be a FHIR date or dateTime, optionally prefixed by "
                f"{', '.join(_DATE_PREFIXES)} (got {v!r})."
            )
        low, high = span
        sql, bounds = {
            "eq": ("l.recorded_ms BETWEEN ? AND ?", [low, high]),
            "ge": ("l.recorded_ms >= ?", [low]),
            "le": ("l.recorded_ms <= ?", [high]),
            "gt": ("l.recorded_ms > ?", [high]),
            "lt": ("l.recorded_ms < ?", [low]),
        }[prefix]
        ors.append(sql)
        args.extend(bounds)
    return "(" + " OR ".join(ors) + ")", args


def _coded(column: str, name: str) -> Callable[[list[str]], Condition]:
    def build(values: list[str]) -> Condition:
        return _any_in(column, [_code(v) for v in _need(name, values)])

    return build


def _purpose(values: list[str]) -> Condition:
    """purposeOfEvent codes are kept space-separated in one column (``TREAT BTG``)."""
    codes = [_code(v) for v in _need("purpose", values)]
    if not all(_PURPOSE.fullmatch(c) for c in codes):
        raise InvalidRequest("purpose must be a v3-ActReason code such as TREAT or BTG.")
    ors = " OR ".join("(' ' || l.purpose || ' ') LIKE ?" for _ in codes)
    return f"({ors})", [f"% {c} %" for c in codes]


_BUILDERS: Final[dict[str, Callable[[list[str]], Condition]]] = {
    "patient": _patient,
    "agent": _agent,
    "device": _device,
    "date": _date,
    "outcome": _coded("l.outcome", "outcome"),
    "subtype": _coded("l.subtype", "subtype"),
    "action": _coded("l.action", "action"),
    "purpose": _purpose,
}

__all__ = [
    "DEFAULT_COUNT",
    "MAX_COUNT",
    "PARAMETERS",
    "AuditSearch",
    "Compartments",
    "Condition",
    "last_use",
]


def last_use(records: Records, subject: str, client_id: str) -> int | None:
    """When ``subject`` last did anything through ``client_id`` (UNIX ms), for the patient's
    "connected apps" list; None when never (index ``audit_log_subject``)."""
    row = records.one(
        "SELECT MAX(recorded_ms) FROM audit_log WHERE subject = ? AND client_id = ?",
        (subject, client_id),
    )
    return int(row[0]) if row is not None and row[0] is not None else None
