"""What a refusing Bedside server said, as one sentence for the user.

The server's OperationOutcome ``diagnostics`` (written to be shown, without PHI) or an OAuth
``error_description`` are passed on for a 4xx; a 5xx gets only its status. Issues of severity
``information`` are machine notes (``{"status":"wipe"}``, docs/device-registry.md), read by
:func:`device_status_of`, never shown.
"""

from __future__ import annotations

import json
from typing import Any

import httpx

__all__ = ["device_status_of", "refusal"]


def _issues(response: httpx.Response) -> list[dict[str, Any]]:
    try:
        body = response.json()
    except ValueError:
        return []
    if not isinstance(body, dict) or body.get("resourceType") != "OperationOutcome":
        return []
    return [i for i in body.get("issue", []) if isinstance(i, dict)]


def _diagnostics(response: httpx.Response) -> str:
    """The OperationOutcome's sentences, or an OAuth error_description; "" when neither.

    Issues of severity ``information`` are machine notes (``{"status":"wipe"}``), not words
    for the user (docs/device-registry.md).
    """
    issues = _issues(response)
    if issues:
        said = (i.get("diagnostics") for i in issues if i.get("severity") != "information")
        return " ".join(str(d) for d in said if d)
    try:
        body = response.json()
    except ValueError:
        return ""
    description = body.get("error_description") if isinstance(body, dict) else None
    return str(description) if description else ""


def device_status_of(response: httpx.Response) -> str | None:
    """The device status a refusal carries in an informational issue, if any."""
    for issue in _issues(response):
        if issue.get("severity") != "information":
            continue
        try:
            note = json.loads(str(issue.get("diagnostics")))
        except ValueError:
            continue
        if isinstance(note, dict) and isinstance(note.get("status"), str):
            return str(note["status"])
    return None


def refusal(response: httpx.Response, doing: str, root: str) -> str:
    """One sentence for a refused request: the server's own words for a 4xx, else the status."""
    status = response.status_code
    said = " ".join(_diagnostics(response).split())[:300] if status < 500 else ""
    if said:
        said = said if said.endswith((".", "!", "?")) else said + "."
        return f"The server refused {doing} ({status}): {said}"
    if status >= 500:
        return f"The server at {root} failed {doing} ({status})."
    return f"The server refused {doing} ({status})."
