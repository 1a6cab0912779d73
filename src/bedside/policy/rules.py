"""The policy file: what each role may do, which data is sensitive, break-glass settings.

Role permissions come from a TOML file, not from code: ``default.toml`` ships with Bedside, and a
deployment overrides it with ``<data dir>/policy.toml`` or ``serve --policy FILE``. The file is
checked when it is loaded; a mistake is a startup error naming the line's role and field, never a
silently wider policy. See docs/policy.md for the format.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any, Final

from bedside.errors import PolicyError
from bedside.fhir.compartment import REFERENCE_TYPES
from bedside.fhir.resource_types import is_resource_type
from bedside.policy.model import Label
from bedside.policy.posture import FACTS, STEPS, PostureRules
from bedside.policy.references import ReferenceRules, parse_references, resource_types

__all__ = [
    "APPEND_ONLY",
    "CONFLICT_CLASSES",
    "EXCLUSIVE",
    "LETTERS",
    "MERGEABLE",
    "NO_ROLE",
    "PATIENT_REACH",
    "READ_LETTERS",
    "READ_ONLY",
    "OfflineRules",
    "PolicyRules",
    "RoleRules",
    "SyncRules",
    "parse",
]

LETTERS: Final = frozenset("cruds")
READ_LETTERS: Final = frozenset("rs")
PATIENT_REACH: Final = ("related", "own", "all", "none")


@dataclass(frozen=True, slots=True)
class RoleRules:
    name: str
    patients: str  # one of PATIENT_REACH
    permissions: dict[str, frozenset[str]]  # type or "*" -> letters

    def letters(self, rtype: str) -> frozenset[str]:
        return self.permissions.get(rtype, self.permissions.get("*", frozenset()))


NO_ROLE: Final = RoleRules("", "none", {})

#: Conflict classes of device writes (docs/sync-protocol.md "Conflict classes").
APPEND_ONLY: Final = "append-only"
MERGEABLE: Final = "mergeable"
EXCLUSIVE: Final = "exclusive"
READ_ONLY: Final = "read-only"
CONFLICT_CLASSES: Final = (APPEND_ONLY, MERGEABLE, EXCLUSIVE, READ_ONLY)


@dataclass(frozen=True, slots=True)
class SyncRules:
    """How the server settles device writes: the ``[sync.conflicts]`` and ``[sync.review]``
    tables. Defaults are the brief's ("Conflict classes")."""

    classes: dict[str, str]  # resource type -> one of CONFLICT_CLASSES
    default_class: str = EXCLUSIVE  # a type listed nowhere: the safest rule
    sign_off: frozenset[str] = frozenset()  # types whose change to ``final`` is exclusive
    review_roles: dict[str, str] = field(default_factory=dict)  # type or "*" -> role
    #: queue role -> the console role that may resolve that queue's items from the governance
    #: console (``[sync.review] console``; ADR 0014): none unless the policy names one.
    console_resolvers: dict[str, str] = field(default_factory=dict)

    def conflict_class(self, rtype: str) -> str:
        return self.classes.get(rtype, self.default_class)

    def review_role(self, rtype: str) -> str:
        """The role whose review queue a conflict on ``rtype`` goes to."""
        return self.review_roles.get(rtype, self.review_roles.get("*", "doctor"))


@dataclass(frozen=True, slots=True)
class OfflineRules:
    """How a device may work offline: the ``[offline]`` table, carried in the snapshot."""

    snapshot_seconds: int = 8 * 3600  # a snapshot's lifetime: full use until it expires
    grace_seconds: int = 24 * 3600  # after expiry: read-only for this long, then locked
    pin_attempts: int = 5  # wrong PINs in a row before only an online sign-in unlocks
    inactivity_seconds: int = 5 * 60  # idle time before the device locks itself
    quick_unlock_seconds: int = 30 * 60  # after an idle lock: PIN without the slow key derivation
    attachment_retention_seconds: int = 24 * 3600  # attachments kept after confirmed sync
    clinical_grace_seconds: int = 72 * 3600  # a patient's data kept after leaving the working set

    def claims(self) -> dict[str, int]:
        """The snapshot's ``offline`` claim (docs/policy-snapshot.md)."""
        return {
            "grace_seconds": self.grace_seconds,
            "pin_attempts": self.pin_attempts,
            "inactivity_seconds": self.inactivity_seconds,
            "quick_unlock_seconds": self.quick_unlock_seconds,
            "attachment_retention_seconds": self.attachment_retention_seconds,
            "clinical_grace_seconds": self.clinical_grace_seconds,
        }


@dataclass(frozen=True, slots=True)
class PolicyRules:
    roles: dict[str, RoleRules]
    sensitive: frozenset[Label]
    break_glass_roles: frozenset[str] = frozenset()
    break_glass_seconds: int = 3600
    max_auth_age: int = 300
    #: ``[break_glass] offline``: a device may open break-glass itself while offline (PIN and
    #: reason), for ``offline_minutes``; the grant must reach the server within
    #: ``offline_sync_hours`` or that device's further break-glass stops until it syncs.
    break_glass_offline: bool = False
    break_glass_offline_seconds: int = 1800
    break_glass_sync_seconds: int = 12 * 3600
    review_roles: frozenset[str] = frozenset()
    monitor_roles: frozenset[str] = frozenset()
    offline: OfflineRules = OfflineRules()
    sync: SyncRules = SyncRules({})
    references: ReferenceRules = field(default_factory=ReferenceRules)
    posture: PostureRules = field(default_factory=PostureRules)
    source: str = "default"

    @property
    def snapshot_seconds(self) -> int:
        return self.offline.snapshot_seconds

    def role(self, name: str | None) -> RoleRules:
        """The rules of a role; an unknown role (or none) may do nothing."""
        return self.roles.get(name or "", NO_ROLE)

    @classmethod
    def default(cls) -> PolicyRules:
        return _default()

    @classmethod
    def load(cls, path: Path | None) -> PolicyRules:
        """The file at ``path``, or the default policy when there is none."""
        if path is None or not path.exists():
            return cls.default()
        try:
            text = path.read_text("utf-8")
        except OSError as exc:
            raise PolicyError(f"Cannot read the policy file {path}: {exc.strerror}.") from None
        return parse(text, source=str(path))


@cache
def _default() -> PolicyRules:
    """The built-in policy, parsed once per process (PolicyRules is immutable)."""
    text = resources.files("bedside.policy").joinpath("default.toml").read_text("utf-8")
    return parse(text, source="default")


def parse(text: str, *, source: str) -> PolicyRules:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise PolicyError(f"The policy file {source} is not valid TOML: {exc}.") from None
    roles = {
        name: _role(name, body, source) for name, body in _table(data, "roles", source).items()
    }
    sensitive = frozenset(
        _label(x, source) for x in _table(data, "sensitive", source).get("labels", [])
    )
    glass = _table(data, "break_glass", source)
    gov = _table(data, "governance", source)
    offline = _table(data, "offline", source)
    return PolicyRules(
        roles=roles,
        sensitive=sensitive,
        break_glass_roles=_names(glass.get("roles", []), roles, source),
        break_glass_seconds=_positive(glass.get("minutes", 60), "break_glass.minutes", source) * 60,
        max_auth_age=_positive(
            glass.get("max_auth_age_seconds", 300), "break_glass.max_auth_age_seconds", source
        ),
        break_glass_offline=_flag(glass.get("offline", False), "break_glass.offline", source),
        break_glass_offline_seconds=_positive(
            glass.get("offline_minutes", 30), "break_glass.offline_minutes", source
        )
        * 60,
        break_glass_sync_seconds=_positive(
            glass.get("offline_sync_hours", 12), "break_glass.offline_sync_hours", source
        )
        * 3600,
        review_roles=_names(gov.get("review_roles", []), roles, source),
        monitor_roles=_names(gov.get("monitor_roles", []), roles, source),
        offline=_offline(offline, source),
        sync=_sync(_table(data, "sync", source), roles, source),
        references=parse_references(_table(data, "references", source), source),
        posture=_posture(_table(data, "posture", source), source),
        source=source,
    )


def _sync(table: dict[str, Any], roles: dict[str, RoleRules], source: str) -> SyncRules:
    """``[sync.conflicts]``: a list of types per class, ``default`` and ``sign_off``;
    ``[sync.review]``: ``roles``, a table of type (or "*") = role. A file without one of the
    two tables gets the built-in one (the brief's defaults)."""
    where = f"In the policy file {source}, [sync"
    unknown = sorted(set(table) - {"conflicts", "review"})
    if unknown:
        raise PolicyError(f"{where}] has no table {unknown[0]}.")
    inherited = source != "default" and "review" not in table
    if source != "default" and not ("conflicts" in table and "review" in table):
        builtin = _default().sync
        table = {
            "conflicts": table.get("conflicts", _conflicts_table(builtin)),
            "review": table.get(
                "review", {"roles": builtin.review_roles, "console": builtin.console_resolvers}
            ),
        }
    conflicts = _table(table, "conflicts", source)
    classes: dict[str, str] = {}
    for key, types in conflicts.items():
        if key in ("default", "sign_off"):
            continue
        if key not in CONFLICT_CLASSES:
            raise PolicyError(f"{where}.conflicts] has no class {key}.")
        for rtype in resource_types(types, f"{where}.conflicts] {key}"):
            if rtype in classes:
                raise PolicyError(f"{where}.conflicts] lists {rtype} in two classes.")
            classes[rtype] = key
    default = conflicts.get("default", EXCLUSIVE)
    if default not in CONFLICT_CLASSES:
        raise PolicyError(f"{where}.conflicts] default must be one of {CONFLICT_CLASSES}.")
    sign_off = frozenset(
        resource_types(conflicts.get("sign_off", []), f"{where}.conflicts] sign_off")
    )
    review = _table(table, "review", source)
    if set(review) - {"roles", "console"}:
        raise PolicyError(f"{where}.review] has only the settings roles and console.")
    routes = review.get("roles", {})
    if not isinstance(routes, dict):
        raise PolicyError(f"{where}.review] roles must be a table of type = role.")
    for rtype, role in routes.items():
        if rtype != "*" and not is_resource_type(rtype):
            raise PolicyError(f"{where}.review] {rtype} is not a FHIR R4 resource type.")
        if role not in roles and not inherited:
            raise PolicyError(f"{where}.review] {rtype} names the undefined role {role!r}.")
    console = review.get("console", {})
    if not isinstance(console, dict):
        raise PolicyError(f"{where}.review] console must be a table of queue role = console role.")
    for queue, resolver in console.items():
        if not inherited and (queue not in roles or resolver not in roles):
            raise PolicyError(f"{where}.review] console names an undefined role.")
    return SyncRules(classes, default, sign_off, dict(routes), dict(console))


def _conflicts_table(rules: SyncRules) -> dict[str, Any]:
    out: dict[str, Any] = {"default": rules.default_class, "sign_off": sorted(rules.sign_off)}
    for rtype, klass in rules.classes.items():
        out.setdefault(klass, []).append(rtype)
    return out


#: ``[offline]`` keys: (field of OfflineRules, seconds per unit, default in those units).
_OFFLINE_KEYS: Final = {
    "snapshot_hours": ("snapshot_seconds", 3600, 8),
    "grace_hours": ("grace_seconds", 3600, 24),
    "pin_attempts": ("pin_attempts", 1, 5),
    "inactivity_minutes": ("inactivity_seconds", 60, 5),
    "quick_unlock_minutes": ("quick_unlock_seconds", 60, 30),
    "attachments_hours_after_sync": ("attachment_retention_seconds", 3600, 24),
    "clinical_grace_hours": ("clinical_grace_seconds", 3600, 72),
}


def _offline(table: dict[str, Any], source: str) -> OfflineRules:
    unknown = sorted(set(table) - set(_OFFLINE_KEYS))
    if unknown:
        raise PolicyError(f"In the policy file {source}, [offline] has no setting {unknown[0]}.")
    values = {
        field: _positive(table.get(key, default), f"offline.{key}", source) * unit
        for key, (field, unit, default) in _OFFLINE_KEYS.items()
    }
    return OfflineRules(**values)


def _table(data: dict[str, Any], key: str, source: str) -> dict[str, Any]:
    value = data.get(key, {})
    if not isinstance(value, dict):
        raise PolicyError(f"In the policy file {source}, [{key}] must be a table.")
    return value


def _role(name: str, body: Any, source: str) -> RoleRules:
    where = f"In the policy file {source}, role {name}"
    if not isinstance(body, dict):
        raise PolicyError(f"{where} must be a table.")
    reach = body.get("patients", "none")
    if reach not in PATIENT_REACH:
        raise PolicyError(f"{where}: patients must be one of {', '.join(PATIENT_REACH)}.")
    types = body.get("types", {})
    if not isinstance(types, dict):
        raise PolicyError(f"{where}: types must be a table of type = letters.")
    permissions: dict[str, frozenset[str]] = {}
    for rtype, letters in types.items():
        if rtype != "*" and not is_resource_type(rtype):
            raise PolicyError(f"{where}: {rtype} is not a FHIR R4 resource type.")
        if not isinstance(letters, str) or not set(letters) <= LETTERS:
            raise PolicyError(f'{where}: {rtype} must be letters from cruds, e.g. "rs".')
        permissions[rtype] = frozenset(letters)
    star = permissions.get("*")
    if star is not None:
        # "*" never lets a role change shared reference data (a Location's partOf decides who
        # reaches a ward's patients): only a role that names the type may (docs/policy.md).
        for rtype in sorted(REFERENCE_TYPES - permissions.keys()):
            permissions[rtype] = star & READ_LETTERS
    return RoleRules(name, reach, permissions)


def _label(text: Any, source: str) -> Label:
    system, bar, code = str(text).partition("|")
    if not bar or not system or not code:
        raise PolicyError(
            f"In the policy file {source}, sensitive label {text!r} is not system|code."
        )
    return (system, code)


def _names(value: Any, roles: dict[str, RoleRules], source: str) -> frozenset[str]:
    if not isinstance(value, list) or any(v not in roles for v in value):
        raise PolicyError(f"In the policy file {source}, {value!r} must list defined roles.")
    return frozenset(value)


def _posture(table: dict[str, Any], source: str) -> PostureRules:
    """``[posture]``: a step (STEPS) for each fact (FACTS) and ``unknown``."""
    known = {*FACTS, "unknown"}
    unknown = sorted(set(table) - known)
    if unknown:
        raise PolicyError(f"In the policy file {source}, [posture] has no setting {unknown[0]}.")
    bad = sorted(k for k, v in table.items() if v not in STEPS)
    if bad:
        raise PolicyError(
            f"In the policy file {source}, posture.{bad[0]} must be one of {', '.join(STEPS)}."
        )
    default = PostureRules()
    steps = {f: str(table.get(f, default.steps.get(f, "none"))) for f in FACTS}
    return PostureRules(steps, str(table.get("unknown", default.unknown)))


def _flag(value: Any, what: str, source: str) -> bool:
    if not isinstance(value, bool):
        raise PolicyError(f"In the policy file {source}, {what} must be true or false.")
    return value


def _positive(value: Any, what: str, source: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        raise PolicyError(f"In the policy file {source}, {what} must be a positive whole number.")
    return value
