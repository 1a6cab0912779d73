"""Record observations: the NEWS2 set, scored as it is typed, saved on the device at once.

The rule lives in one place, :mod:`bedside.clinical`: the page's script posts the fields to
``/patients/<id>/observe/score`` as they change and shows what comes back (each parameter's
score, "NEWS2 <score>", the band and the response it calls for, or the sentences saying why
there is no score yet). Nothing is scored in the browser, so the page and the saved record
can never disagree. An implausible value is refused with a sentence; a missing parameter
leaves the set incomplete, never scored as 0.

Saving (``POST /patients/<id>/observe``) builds one Observation per reading and, for a
complete set, the NEWS2 total with its component scores and ``derivedFrom``
(:func:`bedside.clinical.news2_fhir.build_observations`), and records them as one action
(:meth:`Node.record_set`): all saved on the device, or none. The form names its patient; a
post whose patient is not the page's is refused before anything is built (wrong patient).

While typing, the fields are kept as a draft (a QuestionnaireResponse ``in-progress``, only in
the encrypted store) so that an idle lock or a closed tab loses nothing; the draft comes back
when the form is opened again and is deleted in the same transaction as the save.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Final

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from bedside.clinical.news2 import Assessment, Consciousness, Parameter
from bedside.clinical.news2_fhir import build_observations
from bedside.clinical.news2_form import FORM_FIELDS, assess_form
from bedside.device.app.escalate import PRIORITY
from bedside.device.app.pages import Pages, form_of, json_answer
from bedside.device.drafts import Draft
from bedside.device.errors import DeviceError
from bedside.errors import Unprocessable

__all__ = ["CONSCIOUSNESS", "FORM", "routes", "scored"]

FORM: Final = "urn:bedside:form:news2-observations"
_WRONG_PATIENT: Final = (
    "This form was opened for another patient than the one this page is about, so nothing was "
    "saved. Open the patient's chart again and record from there."
)
_NOTHING: Final = "Enter at least one reading before saving."
_MAX_FIELD: Final = 16
CONSCIOUSNESS: Final = tuple((c.value, c.label) for c in Consciousness)


def _fields(source: Any) -> dict[str, str]:
    return {k: str(source.get(k) or "").strip()[:_MAX_FIELD] for k in FORM_FIELDS}


def scored(assessment: Assessment) -> dict[str, Any]:
    """What the page shows for an assessment (also the score endpoint's JSON)."""
    response = assessment.response
    return {
        "fields": {
            p.value: {"score": assessment.scores.get(p), "message": assessment.refused.get(p)}
            for p in Parameter
        },
        "headline": assessment.headline,
        "complete": assessment.complete,
        "band": assessment.band.value if assessment.band else None,
        "band_text": response.label if response else "",
        "monitoring": response.monitoring if response else "",
        "action": response.action if response else "",
        "problems": list(assessment.problems()),
    }


def _draft_body(pid: str, fields: dict[str, str]) -> dict[str, Any]:
    return {
        "resourceType": "QuestionnaireResponse",
        "status": "in-progress",
        "questionnaire": FORM,
        "subject": {"reference": f"Patient/{pid}"},
        "item": [{"linkId": k, "answer": [{"valueString": v}]} for k, v in fields.items() if v],
    }


def _draft_fields(draft: Draft) -> dict[str, str]:
    out = dict.fromkeys(FORM_FIELDS, "")
    for item in draft.resource.get("item") or ():
        if isinstance(item, dict) and item.get("linkId") in out:
            answers = item.get("answer") or [{}]
            out[str(item["linkId"])] = str(answers[0].get("valueString") or "")[:_MAX_FIELD]
    return out


def _effective(epoch: float) -> str:
    """When the set was taken: now by the device's clock, as FHIR dateTime in UTC."""
    moment = datetime.fromtimestamp(epoch, UTC)
    return moment.isoformat(timespec="seconds").replace("+00:00", "Z")


def routes(pages: Pages) -> list[Route]:
    node = pages.node

    def latest_draft(pid: str) -> Draft | None:
        return next((d for d in node.drafts(pid) if d.resource.get("questionnaire") == FORM), None)

    def form_page(
        request: Request,
        pid: str,
        fields: dict[str, str] | None = None,
        draft: str | None = None,
        errors: list[str] | None = None,
        status: int = 200,
    ) -> Response:
        restored = False
        if fields is None:
            found = latest_draft(pid)
            fields = _draft_fields(found) if found else dict.fromkeys(FORM_FIELDS, "")
            draft, restored = (found.id, True) if found else (None, False)
        typed = any(fields.values())
        return pages.render(
            request,
            "observe",
            status=status,
            title="Record observations",
            banner=pages.banner(pid),
            patient_id=pid,
            fields=fields,
            draft=draft or "",
            restored=restored,
            result=scored(assess_form(fields)) if typed else None,
            errors=errors or [],
            blocked=pages.can_record(),
            consciousness=CONSCIOUSNESS,
        )

    def show(request: Request) -> Response:
        return form_page(request, request.path_params["pid"])

    async def score(request: Request) -> Response:
        body = await request.json()
        if not isinstance(body, dict) or body.get("patient") != request.path_params["pid"]:
            return json_answer({"message": _WRONG_PATIENT}, 409)
        return json_answer(scored(assess_form(_fields(body.get("fields") or {}))))

    async def keep_draft(request: Request) -> Response:
        pid = request.path_params["pid"]
        body = await request.json()
        if not isinstance(body, dict) or body.get("patient") != pid:
            return json_answer({"message": _WRONG_PATIENT}, 409)
        fields = _fields(body.get("fields") or {})
        draft = body.get("draft") or None

        def save() -> str:
            try:
                return node.save_draft(_draft_body(pid, fields), patient=pid, draft_id=draft)
            except DeviceError:
                if draft is None:
                    raise
                return node.save_draft(_draft_body(pid, fields), patient=pid)  # it went: anew

        saved = await run_in_threadpool(save)
        return json_answer({"draft": saved, "locks_in": pages.strip().get("locks_in")})

    async def save(request: Request) -> Response:
        pid = request.path_params["pid"]
        form = await form_of(request)
        if form.get("patient") != pid:
            return await run_in_threadpool(
                form_page, request, pid, _fields(form), None, [_WRONG_PATIENT], 409
            )
        fields = _fields(form)
        draft = str(form.get("draft") or "") or None
        return await run_in_threadpool(record, request, pid, fields, draft)

    def record(request: Request, pid: str, fields: dict[str, str], draft: str | None) -> Response:
        assessment = assess_form(fields)
        if not any(v for k, v in fields.items() if k != "spo2_scale"):
            return form_page(request, pid, fields, draft, [_NOTHING], 422)
        blocked = pages.can_record()
        if blocked:
            return form_page(request, pid, fields, draft, [blocked], 403)
        try:
            effective = _effective(node.clock())
            made = build_observations(assessment.inputs, patient=pid, effective=effective)
        except Unprocessable:
            return form_page(request, pid, fields, draft, list(assessment.problems()), 422)
        if assessment.refused:
            return form_page(request, pid, fields, draft, list(assessment.problems()), 422)
        node.record_set(made.all(), pid, draft=draft)
        if made.total is not None and assessment.response is not None:
            said = f"{assessment.headline} ({assessment.response.label})"
        else:
            said = "An incomplete set, with no NEWS2 score"
        urgent = assessment.band in PRIORITY  # medium or high: the chart leads with "Escalate"
        pages.gate.flash(
            f"Saved on device: {said}. It will be sent at the next sync."
            + (
                " This score calls for an urgent response: escalate it to the team."
                if urgent
                else ""
            )
        )
        return RedirectResponse(f"/patients/{pid}", status_code=303)

    return [
        Route("/patients/{pid}/observe", show, methods=["GET"]),
        Route("/patients/{pid}/observe", save, methods=["POST"]),
        Route("/patients/{pid}/observe/score", score, methods=["POST"]),
        Route("/patients/{pid}/observe/draft", keep_draft, methods=["POST"]),
    ]
