"""Escalate a concern: a message to the patient's responsible team, with the NEWS2 behind it
(docs/clinician-app.md "Escalate a concern").

``/patients/<id>/escalate`` records a FHIR R4 Communication: ``category`` alert, ``priority``
from the NEWS2 band (high: ``stat``, medium: ``urgent``, else ``routine``), the patient as
``subject``, the in-progress Encounter as ``encounter``, the signed-in user as ``sender``, the
patient's active CareTeams on the device as ``recipient``, the NEWS2 total Observation as
``reasonReference`` and the clinician's words as ``payload``. A Communication rather than a
Task: it is append-only (it never conflicts and never waits in a review queue, so a concern
cannot be held back by a colleague's edit), nurses may create it under the default policy,
and what the team then does about it is theirs to record (a Task, a review).

Like every write it commits on the device at once and is a signed event at the next sync, so
offline it reaches nobody until then: the page says so and tells the clinician to phone as well.

The chart shows the prompt (:func:`prompt`) prominently when the latest NEWS2 is in the medium
or high band and no concern about it has been recorded yet.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Final

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from bedside.clinical.news2 import Band
from bedside.clinical.news2_codes import is_total
from bedside.device.app import views
from bedside.device.app.pages import Pages, form_of
from bedside.device.app.summary import banner_of
from bedside.device.chart import ChartItem

__all__ = ["CATEGORY", "PRIORITY", "build", "latest_news2", "prompt", "routes"]

CATEGORY: Final = "http://terminology.hl7.org/CodeSystem/communication-category"
PRIORITY: Final = {Band.HIGH: "stat", Band.MEDIUM: "urgent"}
_MAX: Final = 2000
_WRONG_PATIENT: Final = (
    "This form was opened for another patient than the one this page is about, so nothing was "
    "sent. Open the patient's chart again and escalate from there."
)
_EMPTY: Final = "Write what worries you, so the team knows what to do."
_NOT_TRUE: Final = frozenset({"entered-in-error", "cancelled"})


def latest_news2(items: list[ChartItem]) -> ChartItem | None:
    """The patient's newest NEWS2 total on the device."""
    totals = [
        i
        for i in items
        if i.type == "Observation"
        and is_total(i.resource)
        and i.resource.get("status") not in _NOT_TRUE
    ]
    return max(totals, key=lambda i: views.when_of(i.resource) or 0.0, default=None)


def _escalated(items: list[ChartItem], observation: str) -> bool:
    ref = f"Observation/{observation}"
    return any(
        i.type == "Communication"
        and any(
            isinstance(r, dict) and r.get("reference") == ref
            for r in i.resource.get("reasonReference") or ()
        )
        for i in items
    )


def prompt(items: list[ChartItem]) -> dict[str, Any] | None:
    """What the chart shows when the latest NEWS2 calls for an urgent or emergency response and
    no concern about it is recorded yet, else None."""
    latest = latest_news2(items)
    score = views.news2_of(latest.resource) if latest else None
    if latest is None or score is None or score.band not in PRIORITY:
        return None
    if _escalated(items, latest.id):
        return None
    return {"id": latest.id, "total": score.total, "band": score.band_text}


def _news2_by_id(items: list[ChartItem], rid: str) -> ChartItem | None:
    """The patient's NEWS2 total the form named (the latest when the form was opened)."""
    return next(
        (i for i in items if i.type == "Observation" and i.id == rid and is_total(i.resource)),
        None,
    )


def _teams(items: list[ChartItem]) -> list[ChartItem]:
    return [i for i in items if i.type == "CareTeam" and i.resource.get("status") == "active"]


def _team_name(team: ChartItem) -> str:
    return str(team.resource.get("name") or "The patient's care team")


def build(
    *,
    patient: str,
    message: str,
    sent: float,
    news2: ChartItem | None,
    band: Band | None,
    teams: list[ChartItem],
    sender: str | None,
    sender_display: str,
    encounter: str | None,
) -> dict[str, Any]:
    """The Communication for a concern (see the module docstring)."""
    moment = datetime.fromtimestamp(sent, UTC).isoformat(timespec="seconds")
    record: dict[str, Any] = {
        "resourceType": "Communication",
        "status": "completed",
        "category": [
            {
                "coding": [{"system": CATEGORY, "code": "alert", "display": "Alert"}],
                "text": "Escalation of a concern",
            }
        ],
        "priority": PRIORITY.get(band, "routine") if band else "routine",
        "subject": {"reference": f"Patient/{patient}"},
    }
    if encounter:
        record["encounter"] = {"reference": f"Encounter/{encounter}"}
    record["sent"] = moment.replace("+00:00", "Z")
    if teams:
        record["recipient"] = [
            {"reference": f"CareTeam/{t.id}", "display": _team_name(t)} for t in teams
        ]
    sender_ref: dict[str, Any] = {"reference": sender} if sender else {}
    if sender_display:
        sender_ref["display"] = sender_display
    record["sender"] = sender_ref
    if news2 is not None:
        record["reasonReference"] = [{"reference": f"Observation/{news2.id}"}]
    record["payload"] = [{"contentString": message}]
    return record


def routes(pages: Pages) -> list[Route]:
    node = pages.node

    def page(
        request: Request,
        pid: str,
        message: str = "",
        errors: list[str] | None = None,
        status: int = 200,
    ) -> Response:
        items = node.chart(pid)
        latest = latest_news2(items)
        score = views.news2_of(latest.resource) if latest else None
        return pages.render(
            request,
            "escalate",
            status=status,
            title="Escalate a concern",
            banner=banner_of(pid, items),
            patient_id=pid,
            latest=latest,
            score=score,
            teams=[_team_name(t) for t in _teams(items)],
            message=message,
            errors=errors or [],
            blocked=pages.can_record(),
        )

    def show(request: Request) -> Response:
        return page(request, request.path_params["pid"])

    async def send(request: Request) -> Response:
        pid = request.path_params["pid"]
        form = await form_of(request)
        return await run_in_threadpool(record, request, pid, form)

    def record(request: Request, pid: str, form: dict[str, str]) -> Response:
        message = str(form.get("message") or "").strip()[:_MAX]
        if form.get("patient") != pid:
            return page(request, pid, message, [_WRONG_PATIENT], 409)
        if not message:
            return page(request, pid, message, [_EMPTY], 422)
        blocked = pages.can_record()
        if blocked:
            return page(request, pid, message, [blocked], 403)
        items = node.chart(pid)
        chosen = _news2_by_id(items, str(form.get("news2") or ""))
        score = views.news2_of(chosen.resource) if chosen else None
        teams = _teams(items)
        who = node.fhir_user()
        live = [
            i for i in items if i.type == "Encounter" and i.resource.get("status") == "in-progress"
        ]
        made = build(
            patient=pid,
            message=message,
            sent=node.clock(),
            news2=chosen,
            band=score.band if score else None,
            teams=teams,
            sender=who,
            sender_display="" if who else f"User {node.info.user}",
            encounter=live[0].id if live else None,
        )
        node.record("create", made, pid)
        to = ", ".join(_team_name(t) for t in teams) or "the patient's record"
        pages.gate.flash(
            f"Concern saved on device for {to}. It reaches the team when this device syncs: "
            "if it is urgent, phone them now as well."
        )
        return RedirectResponse(f"/patients/{pid}", status_code=303)

    return [
        Route("/patients/{pid}/escalate", show, methods=["GET"]),
        Route("/patients/{pid}/escalate", send, methods=["POST"]),
    ]
