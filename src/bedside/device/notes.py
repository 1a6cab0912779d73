"""Progress notes and sign-offs as FHIR resources: what the clinician app writes (issue 19).

A progress note is a ``DocumentReference``: type LOINC 11506-3 "Progress note", ``status``
current, ``docStatus`` preliminary, the text as one ``text/plain`` attachment (base64, UTF-8),
the user's practitioner as ``author``, the patient as ``subject``. While it is typed it lives
only as a draft in the encrypted store (:mod:`bedside.device.drafts`), holding the same
resource, so finishing it records exactly what was last kept.

A sign-off changes a document to final: a DocumentReference's ``docStatus`` (with the signer as
``authenticator``) or a Composition's ``status`` (with a legal ``attester``). It is of the
exclusive class at sync (:func:`bedside.policy.conflicts.signs_off`): two signers working offline
on the same version end with one signed and the other in review, because each names its signer
and so the second never equals what the first wrote.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any, Final

from bedside.protocol.event import format_time

__all__ = [
    "LOINC",
    "MAX_NOTE",
    "MAX_TITLE",
    "PROGRESS_NOTE",
    "SIGNABLE",
    "is_note_draft",
    "note_resource",
    "note_text",
    "note_title",
    "sign_state",
    "signable",
    "signed_off",
]

LOINC: Final = "http://loinc.org"
PROGRESS_NOTE: Final = "11506-3"
MAX_NOTE: Final = 8_000  # characters: a long note; its form post stays inside the 64 KiB limit
MAX_TITLE: Final = 120
#: The types a sign-off applies to, and the element that says "final".
SIGNABLE: Final = {"DocumentReference": "docStatus", "Composition": "status"}
_NOT_SIGNABLE: Final = frozenset({"entered-in-error", "superseded", "cancelled"})


def note_resource(
    patient: str, text: str, *, title: str = "", author: str | None = None, at: float
) -> dict[str, Any]:
    """The note as it is kept while typed and recorded when finished."""
    data = base64.b64encode(text.encode("utf-8")).decode("ascii")
    resource: dict[str, Any] = {
        "resourceType": "DocumentReference",
        "status": "current",
        "docStatus": "preliminary",
        "type": {
            "coding": [{"system": LOINC, "code": PROGRESS_NOTE, "display": "Progress note"}],
            "text": "Progress note",
        },
        "subject": {"reference": f"Patient/{patient}"},
        "date": format_time(at),
        "description": title.strip() or "Progress note",
        "content": [{"attachment": {"contentType": "text/plain", "data": data}}],
    }
    if author:
        resource["author"] = [{"reference": author}]
    return resource


def is_note_draft(resource: dict[str, Any]) -> bool:
    """Whether a draft's resource is a progress note (not a NEWS2 form or anything else)."""
    if resource.get("resourceType") != "DocumentReference":
        return False
    codings = (resource.get("type") or {}).get("coding") or ()
    return any(isinstance(c, dict) and c.get("code") == PROGRESS_NOTE for c in codings)


def note_text(resource: dict[str, Any]) -> str:
    """The plain text of a document's first ``text/plain`` attachment ('' when it has none)."""
    for content in resource.get("content") or ():
        attachment = content.get("attachment") if isinstance(content, dict) else None
        if not isinstance(attachment, dict):
            continue
        kind = str(attachment.get("contentType") or "").split(";")[0].strip().lower()
        if kind != "text/plain" or not isinstance(attachment.get("data"), str):
            continue
        try:
            return base64.b64decode(attachment["data"], validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return ""
    return ""


def note_title(resource: dict[str, Any]) -> str:
    """What a document is called on the chart: its title, description or type."""
    for key in ("title", "description"):
        if isinstance(resource.get(key), str) and resource[key].strip():
            return str(resource[key])
    kind = resource.get("type") or {}
    return str(kind.get("text") or resource.get("resourceType") or "Document")


def signable(resource: dict[str, Any]) -> bool:
    """Whether this document is waiting for a sign-off (not final, not withdrawn)."""
    element = SIGNABLE.get(str(resource.get("resourceType")))
    if element is None or resource.get("status") in _NOT_SIGNABLE:
        return False
    if resource["resourceType"] == "Composition":
        return resource.get("status") == "preliminary"
    return resource.get("docStatus") in (None, "preliminary")


def sign_state(resource: dict[str, Any]) -> str:
    """ "signed off", "waiting for sign-off", or '' (not a document, or withdrawn)."""
    element = SIGNABLE.get(str(resource.get("resourceType")))
    if element is None or resource.get("status") in _NOT_SIGNABLE:
        return ""
    if resource.get(element) == "final":
        return "signed off"
    return "waiting for sign-off" if signable(resource) else ""


def signed_off(resource: dict[str, Any], signer: str | None, *, at: float) -> dict[str, Any]:
    """The document as signed off by ``signer`` (a Practitioner reference) at ``at``."""
    out = {k: v for k, v in resource.items() if k != "meta"}
    when = format_time(at)
    party = {"reference": signer} if signer else None
    if out["resourceType"] == "Composition":
        out["status"] = "final"
        attester: dict[str, Any] = {"mode": "legal", "time": when}
        if party:
            attester["party"] = party
        out["attester"] = [*(out.get("attester") or ()), attester]
    else:
        out["docStatus"] = "final"
        if party:
            out["authenticator"] = party
    return out
