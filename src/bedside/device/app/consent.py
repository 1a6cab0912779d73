"""Record a consent decision at a home visit: a FHIR Consent create, saved on the device at once.

``GET /patients/<id>/consent`` asks three plain questions: does the patient agree to share
their record or not (``provision.type`` permit or deny), with whom (one of the patient's care
teams on this device, or everyone caring for them: no actor), and whether the sensitive parts
(HIV, mental health, sexual health: the v3 confidentiality labels) are included. ``POST``
records it as a ``patient-privacy`` Consent (``status`` active, ``policyRule`` OPTIN or OPTOUT,
``dateTime`` now) through :meth:`Node.record`: signed, in the outbox, nothing else changes.

The page and the chart say it plainly: **a consent recorded here applies on the server only
after the server checked it at sync** (the Consent rules of docs/consent.md, and the rule that
no write widens its writer's own access, ADR 0009). Until then, who may see the record does
not change, on the server or on this device. A refused decision shows the server's sentence
on the chart (:func:`states`) and in Sync and outbox.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Final

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from bedside.device.app.pages import Pages, form_of
from bedside.device.chart import ChartItem
from bedside.device.errors import DeviceError, Refused
from bedside.device.ward import ItemState

__all__ = ["ACT_CODE", "APPLIES", "EVERYONE", "SENSITIVE", "build_consent", "routes", "states"]

ACT_CODE: Final = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
#: The sensitive labels a "sensitive parts too" decision names (v3 ActCode).
SENSITIVE: Final = ("HIV", "PSY", "SEX")
EVERYONE: Final = "everyone"
APPLIES: Final = (
    "This decision applies on the server only after the server has checked it at the next "
    "sync. Until then, who can see the record does not change."
)
_WRONG_PATIENT: Final = (
    "This form was opened for another patient than the one this page is about, so nothing was "
    "saved. Open the patient's chart again and record the decision from there."
)
_CHOOSE: Final = "Choose whether the patient agrees or does not agree to share their record."
_WHO: Final = "Choose who the decision is about."
_WORDS: Final = {
    "pending": "Saved on device. " + APPLIES,
    "sending": "Being sent to the server.",
    "confirmed": "Accepted by the server: it applies now.",
    "needs-review": "Waiting for review on the server.",
}


def build_consent(
    patient: str, decision: str, actor: str | None, sensitive: bool, at: float
) -> dict[str, Any]:
    """The Consent of a decision (``decision`` permit | deny; ``actor`` a reference or None)."""
    provision: dict[str, Any] = {"type": decision}
    if actor is not None:
        provision["actor"] = [{"role": {"text": "recipient"}, "reference": {"reference": actor}}]
    if sensitive:
        provision["securityLabel"] = [{"system": ACT_CODE, "code": c} for c in SENSITIVE]
    return {
        "resourceType": "Consent",
        "status": "active",
        "scope": {
            "coding": [
                {
                    "system": "http://terminology.hl7.org/CodeSystem/consentscope",
                    "code": "patient-privacy",
                }
            ]
        },
        "category": [{"coding": [{"system": "http://loinc.org", "code": "59284-0"}]}],
        "patient": {"reference": f"Patient/{patient}"},
        "dateTime": datetime.fromtimestamp(at, UTC)
        .isoformat(timespec="seconds")
        .replace("+00:00", "Z"),
        "policyRule": {
            "coding": [{"system": ACT_CODE, "code": "OPTIN" if decision == "permit" else "OPTOUT"}]
        },
        "provision": provision,
    }


def _teams(items: list[ChartItem]) -> list[tuple[str, str]]:
    """(reference, name) of the patient's care teams on this device."""
    out = []
    for item in items:
        if item.type == "CareTeam" and item.resource.get("status", "active") == "active":
            name = str(item.resource.get("name") or "The care team")
            out.append((f"CareTeam/{item.id}", name))
    return out


def _describe(resource: dict[str, Any], teams: dict[str, str]) -> str:
    provision = resource.get("provision") or {}
    agrees = provision.get("type") == "permit"
    actors = [
        str((a.get("reference") or {}).get("reference") or "")
        for a in provision.get("actor") or ()
        if isinstance(a, dict)
    ]
    who = ", ".join(teams.get(a, "a named team") for a in actors) or "everyone caring for them"
    what = (
        "their record, sensitive parts included"
        if provision.get("securityLabel")
        else ("their record")
    )
    verb = "Agrees to share" if agrees else "Does not agree to share"
    return f"{verb} {what} with {who}"


def states(
    items: list[ChartItem], recorded: dict[tuple[str, str], ItemState]
) -> list[tuple[str, str, str]]:
    """(description, state, words) of each consent decision on the chart, newest first."""
    teams = dict(_teams(items))
    out = []
    for item in sorted(items, key=lambda i: str(i.resource.get("dateTime") or ""), reverse=True):
        if item.type != "Consent":
            continue
        mine = recorded.get(("Consent", item.id))
        state = mine.state if mine else "confirmed"
        if state == "rejected":
            words = f"Refused by the server: {mine.reason if mine else ''}"
        else:
            words = _WORDS.get(state, state)
        out.append((_describe(item.resource, teams), state, words))
    return out


def routes(pages: Pages) -> list[Route]:
    node = pages.node

    def form_page(
        request: Request,
        pid: str,
        chosen: dict[str, str] | None = None,
        errors: list[str] | None = None,
        status: int = 200,
    ) -> Response:
        return pages.render(
            request,
            "consent",
            status=status,
            title="Record a consent decision",
            banner=pages.banner(pid),
            patient_id=pid,
            teams=_teams(node.chart(pid, "CareTeam")),
            chosen=chosen or {},
            everyone=EVERYONE,
            applies=APPLIES,
            errors=errors or [],
            blocked=pages.can_record(),
        )

    def show(request: Request) -> Response:
        return form_page(request, request.path_params["pid"])

    async def save(request: Request) -> Response:
        form = await form_of(request)
        return await run_in_threadpool(keep, request, request.path_params["pid"], form)

    def keep(request: Request, pid: str, form: dict[str, str]) -> Response:
        if form.get("patient") != pid:
            return form_page(request, pid, form, [_WRONG_PATIENT], 409)
        decision, who = form.get("decision"), form.get("who", "")
        teams = dict(_teams(node.chart(pid, "CareTeam")))
        if decision not in ("permit", "deny"):
            return form_page(request, pid, form, [_CHOOSE], 422)
        if who != EVERYONE and who not in teams:
            return form_page(request, pid, form, [_WHO], 422)
        blocked = pages.can_record()
        if blocked:
            return form_page(request, pid, form, [blocked], 403)
        actor = None if who == EVERYONE else who
        consent = build_consent(pid, decision, actor, form.get("sensitive") == "yes", node.clock())
        try:
            node.record("create", consent, pid)
        except Refused as exc:
            return form_page(request, pid, form, [str(exc)], 403)
        except DeviceError as exc:
            return form_page(request, pid, form, [str(exc)], 422)
        pages.gate.flash("Saved on device: consent decision. " + APPLIES)
        return RedirectResponse(f"/patients/{pid}", status_code=303)

    return [
        Route("/patients/{pid}/consent", show, methods=["GET"]),
        Route("/patients/{pid}/consent", save, methods=["POST"]),
    ]
