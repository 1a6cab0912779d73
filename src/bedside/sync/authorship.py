"""Who wrote a version: its Provenance's author, for a review item's "who changed it".

Every stored version has one Provenance (:mod:`bedside.provenance`) targeting it
(``Task/1/_history/3``). A device whose change went to review shows its clinician who made the
version the server kept, and when, so they know whom to talk to (docs/clinician-app.md
"Conflicts and rejections"). The author's name comes from their Practitioner when the server
holds one; nothing else of theirs is returned.
"""

from __future__ import annotations

from typing import Any

from bedside.store import queries
from bedside.store.base import Records

__all__ = ["changed_by"]


def changed_by(db: Records, rtype: str, rid: str, version: int | None) -> dict[str, Any] | None:
    """``{"who": reference, "name": text, "at": recorded, "device": bool}`` for the author of
    ``rtype/rid`` version ``version``; None when the server has no Provenance for it."""
    if version is None:
        return None
    target = f"{rtype}/{rid}/_history/{version}"
    refs = [("Provenance.target", [f"{rtype}/{rid}"])]
    for prov in queries.current_referring(db, "Provenance", refs):
        if not any(t.get("reference") == target for t in prov.get("target") or ()):
            continue
        agents = [a for a in prov.get("agent") or () if isinstance(a, dict)]
        who = next((a.get("who") or {} for a in agents if _is(a, "author")), {})
        ref = who.get("reference") if isinstance(who, dict) else None
        device = any(
            str((a.get("who") or {}).get("reference") or "").startswith("Device/") for a in agents
        )
        return {
            "who": ref or "",
            "name": _name(db, ref) if isinstance(ref, str) else "",
            "at": prov.get("recorded") or "",
            "device": device,
        }
    return None


def _is(agent: dict[str, Any], code: str) -> bool:
    kinds = (agent.get("type") or {}).get("coding") or ()
    return any(isinstance(c, dict) and c.get("code") == code for c in kinds)


def _name(db: Records, ref: str) -> str:
    kind, _, pid = ref.partition("/")
    if kind != "Practitioner" or not pid:
        return ""
    found = queries.current_by_id(db, "Practitioner", pid)
    for person in found:
        for name in person.get("name") or ():
            if isinstance(name, dict):
                text = (
                    name.get("text")
                    or " ".join(
                        [*map(str, name.get("given") or ()), str(name.get("family") or "")]
                    ).strip()
                )
                if text:
                    return str(text)
    return ""
