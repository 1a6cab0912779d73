"""Graduated compliance: each failing posture fact a device reports maps to a step (docs/policy.md
"Device posture"), and the step decides what the device may still do, on the device and again at
commit on the server (G3), with the reason in plain words.

Steps, mildest first: ``none``; ``warn`` (a banner, nothing blocked); ``no-export`` (no export
and no attachment capture: a photo or document is refused); ``no-new-documentation`` (nothing
new is recorded: creates are refused, a correction of an existing record still goes); ``read-only``
(no writes at all); ``wipe`` (the server flags the device for wipe; it drains first). A device's
step is the strictest of its failing facts'. A fact fails when it is reported the wrong way
(``disk_encryption``/``screen_lock`` false, ``debugger``/``root`` true); a fact not reported
(null) takes the ``unknown`` step, ``none`` by default, since most checks cannot be made
honestly (bedside.device.posture).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

__all__ = ["FACTS", "STEPS", "PostureRules", "assess", "refuses", "rules_from_claim", "words"]

STEPS: Final = ("none", "warn", "no-export", "no-new-documentation", "read-only", "wipe")
#: fact -> the value that fails it
FACTS: Final = {"disk_encryption": False, "screen_lock": False, "debugger": True, "root": True}
_WHAT: Final = {
    "disk_encryption": "disk encryption is off",
    "screen_lock": "there is no screen lock",
    "debugger": "a debugger is attached to Bedside",
    "root": "Bedside is running as the administrator (root)",
}
_UNKNOWN: Final = "{fact} could not be checked"
_FACT_NAMES: Final = {
    "disk_encryption": "disk encryption",
    "screen_lock": "the screen lock",
    "debugger": "whether a debugger is attached",
    "root": "whether Bedside runs as root",
}
_DOES: Final = {
    "warn": "Nothing is blocked yet.",
    "no-export": "Exports and photos or documents are blocked on this device.",
    "no-new-documentation": "New records are blocked on this device; corrections still go.",
    "read-only": "This device is read-only: nothing can be recorded on it.",
    "wipe": "This device will be wiped at its next sync, after sending what it can.",
}
_ATTACHING: Final = frozenset({"Media", "DocumentReference", "Binary"})


@dataclass(frozen=True, slots=True)
class PostureRules:
    """``[posture]``: the step for each failing fact, and for a fact not reported."""

    steps: dict[str, str] = field(
        default_factory=lambda: {
            "disk_encryption": "warn",
            "screen_lock": "warn",
            "debugger": "no-new-documentation",
            "root": "none",
        }
    )
    unknown: str = "none"

    def claims(self) -> dict[str, str]:
        """The snapshot's ``posture`` claim."""
        return {**self.steps, "unknown": self.unknown}


def rules_from_claim(claim: object) -> PostureRules | None:
    if not isinstance(claim, Mapping):
        return None
    steps = {k: str(v) for k, v in claim.items() if k in FACTS and v in STEPS}
    unknown = claim.get("unknown")
    return PostureRules(steps, str(unknown) if unknown in STEPS else "none")


def assess(posture: Mapping[str, Any], rules: PostureRules) -> tuple[str, list[str]]:
    """(the strictest step, the reasons behind it in plain words) for reported ``posture``."""
    found: list[tuple[int, str]] = []
    for fact, failing in FACTS.items():
        value = posture.get(fact)
        if value is None:
            step, why = rules.unknown, _UNKNOWN.format(fact=_FACT_NAMES[fact])
        elif value is failing:
            step, why = rules.steps.get(fact, "none"), _WHAT[fact]
        else:
            continue
        if step != "none":
            found.append((STEPS.index(step), why))
    if not found:
        return "none", []
    worst = max(rank for rank, _ in found)
    return STEPS[worst], [why for rank, why in found if rank == worst]


def words(step: str, reasons: list[str]) -> str:
    """The banner: what was found and what it blocks ("" at ``none``)."""
    if step == "none" or step not in _DOES:
        return ""
    found = "; ".join(reasons)
    return f"This device's security check found that {found}. {_DOES[step]}"


def refuses(step: str, reasons: list[str], action: str, resource: Mapping[str, Any]) -> str | None:
    """None when ``action`` on ``resource`` may go at ``step``; else the sentence why not."""
    rank = STEPS.index(step) if step in STEPS else 0
    because = "; ".join(reasons) or "its security check failed"
    head = f"This device may not record this because {because}"
    if rank >= STEPS.index("read-only"):
        return f"{head}: it is read-only until that is fixed."
    if rank >= STEPS.index("no-new-documentation") and action == "create":
        return f"{head}: new records are blocked until that is fixed."
    if rank >= STEPS.index("no-export") and _attaches(resource):
        return f"{head}: photos and documents are blocked until that is fixed."
    return None


def _attaches(resource: Mapping[str, Any]) -> bool:
    if resource.get("resourceType") in ("Media", "Binary"):
        return True
    if resource.get("resourceType") == "DocumentReference":
        for content in resource.get("content") or ():
            attachment = content.get("attachment") if isinstance(content, dict) else None
            if isinstance(attachment, dict) and (attachment.get("url") or attachment.get("data")):
                if attachment.get("contentType", "").startswith("text/"):
                    continue  # a typed note, not a capture
                return True
    return False
