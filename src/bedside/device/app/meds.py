"""Medication administration from the chart: the active orders, giving or not giving a dose,
and correcting a mistake (docs/clinician-app.md "Medication administration").

``/patients/<id>/meds`` lists the patient's active MedicationRequests on the device and every
administration recorded for them, each with its sync state. Recording one is two steps: the
form (``/meds/<order id>``: given, not given with a reason, or held; dose, route, time), then a
confirm step that shows the five rights (patient, drug, dose, route, time) in plain words and
warns of any dose of the same order already given within its dosing interval
(:mod:`bedside.clinical.administration`), including one recorded on this device and not yet
synced. A warned dose is saved only when the clinician ticks that they checked; the check is
made again at save, so a dose recorded in another tab in between is caught too.

Saving records one MedicationAdministration through :meth:`Node.record` (committed on the
device at once, a signed event in the outbox, rechecked by the server at sync). Records are
never edited: "Mark as entered in error" writes a new version with status
``entered-in-error`` and the reason (a ``correct`` event), then opens the order's form to
record the right one.
"""

from __future__ import annotations

from typing import Any, Final

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from bedside.clinical import administration as rules
from bedside.device.app import views
from bedside.device.app.meds_form import Entry, dose_lines, effective, five_rights, read_entry
from bedside.device.app.pages import Pages, form_of
from bedside.device.chart import ChartItem
from bedside.device.errors import DeviceError

__all__ = ["routes"]

_WRONG_PATIENT: Final = (
    "This form was opened for another patient than the one this page is about, so nothing was "
    "saved. Open the patient's chart again and record from there."
)
_NOT_AN_ORDER: Final = "This medicine order is not on this device for this patient."
_NOT_ACTIVE: Final = "This order is not active, so no dose can be recorded against it."
_NOT_THIS: Final = "This administration does not belong to the patient whose chart is open."
_NO_REASON: Final = "Say why this record is wrong, so that whoever reads it knows."
_ALREADY: Final = "This record is already marked as entered in error."
_STATUS_TEXT: Final = {
    "completed": "Given",
    "not-done": "Not given",
    "on-hold": "Held",
    "in-progress": "Being given",
    "entered-in-error": "Entered in error",
    "stopped": "Stopped",
}


def routes(pages: Pages) -> list[Route]:
    node = pages.node

    def banner(pid: str) -> Any:
        return pages.banner(pid)

    def order(pid: str, rid: str) -> ChartItem:
        try:
            found = node.read("MedicationRequest", rid)
        except DeviceError:
            raise DeviceError(_NOT_AN_ORDER) from None
        if found.patient != pid:
            raise DeviceError(_NOT_AN_ORDER)
        return found

    def states(pid: str) -> dict[str, str]:
        return {
            rid: views.state_label(s.state)
            for (rtype, rid), s in node.item_states(pid).items()
            if rtype == "MedicationAdministration"
        }

    def given_list(pid: str) -> list[ChartItem]:
        return node.chart(pid, "MedicationAdministration")

    def listing(request: Request) -> Response:
        pid = request.path_params["pid"]
        shown = states(pid)
        now = node.clock()
        given = given_list(pid)
        orders = []
        for item in node.chart(pid, "MedicationRequest"):
            if item.resource.get("status") != "active":
                continue
            mine = [g for g in given if _of_order(g, item.id)]
            last = max(
                (g for g in mine if g.resource.get("status") in rules.GIVEN_STATES),
                key=lambda g: rules.when_of(g.resource) or 0.0,
                default=None,
            )
            orders.append(
                {
                    "id": item.id,
                    "drug": rules.medicine_of(item.resource),
                    "dose": rules.dose_of(item.resource),
                    "route": rules.route_of(item.resource),
                    "interval": rules.interval_of(item.resource).text,
                    "last": rules.when_of(last.resource) if last else None,
                }
            )
        rows = sorted((_row(g, shown, now) for g in given), key=lambda r: -(r["when"] or 0.0))
        return pages.render(
            request,
            "meds",
            title="Medicines",
            banner=banner(pid),
            patient_id=pid,
            orders=sorted(orders, key=lambda o: o["drug"]),
            rows=rows,
        )

    def form_page(
        request: Request,
        pid: str,
        rid: str,
        fields: dict[str, str] | None = None,
        errors: list[str] | None = None,
        status: int = 200,
    ) -> Response:
        item = order(pid, rid)
        now = node.clock()
        fields = fields or {
            "outcome": "given",
            "dose": rules.dose_of(item.resource) if _measured(item.resource) else "",
            "route": rules.route_of(item.resource),
            "time": views.moment(now, with_date=False),
            "reason": "",
            "reason_text": "",
        }
        return pages.render(
            request,
            "meds_give",
            status=status,
            title="Record a dose",
            banner=banner(pid),
            patient_id=pid,
            order=_order_view(item),
            fields=fields,
            errors=errors or [],
            reasons=list(rules.REASONS.items()),
            blocked=pages.can_record(),
        )

    def confirm_page(
        request: Request, pid: str, rid: str, entry: Entry, status: int = 200, again: bool = False
    ) -> Response:
        item = order(pid, rid)
        now = node.clock()
        found = rules.duplicates(
            rid, item.resource, [g.resource for g in given_list(pid)], entry.at
        )
        warned = entry.outcome == "given" and bool(found)
        return pages.render(
            request,
            "meds_confirm",
            status=status,
            title="Check and save",
            banner=banner(pid),
            patient_id=pid,
            order=_order_view(item),
            fields=entry.fields(),
            rights=five_rights(banner(pid), item.resource, entry, now),
            outcome=rules.OUTCOMES[entry.outcome][1],
            duplicates=dose_lines(found, states(pid), now) if warned else [],
            again=again,
            blocked=pages.can_record(),
        )

    def show(request: Request) -> Response:
        pid, rid = request.path_params["pid"], request.path_params["rid"]
        if order(pid, rid).resource.get("status") != "active":
            raise DeviceError(_NOT_ACTIVE)
        return form_page(request, pid, rid)

    async def check(request: Request) -> Response:
        pid, rid = request.path_params["pid"], request.path_params["rid"]
        form = await form_of(request)
        return await run_in_threadpool(confirm_or_fix, request, pid, rid, form)

    def entry_or_page(
        request: Request, pid: str, rid: str, form: dict[str, str]
    ) -> Entry | Response:
        """The dose the form describes, or the form again with what is wrong (the fields as
        typed, so nothing is lost)."""
        fields = {k: str(form.get(k) or "") for k in Entry.__slots__ if k != "at"}
        if form.get("patient") != pid:
            return form_page(request, pid, rid, fields, [_WRONG_PATIENT], 409)
        entry, errors = read_entry(form, node.clock())
        if entry is None:
            return form_page(request, pid, rid, fields, errors, 422)
        return entry

    def confirm_or_fix(request: Request, pid: str, rid: str, form: dict[str, str]) -> Response:
        entry = entry_or_page(request, pid, rid, form)
        if isinstance(entry, Response):
            return entry
        return confirm_page(request, pid, rid, entry)

    async def save(request: Request) -> Response:
        pid, rid = request.path_params["pid"], request.path_params["rid"]
        form = await form_of(request)
        return await run_in_threadpool(record, request, pid, rid, form)

    def record(request: Request, pid: str, rid: str, form: dict[str, str]) -> Response:
        entry = entry_or_page(request, pid, rid, form)
        if isinstance(entry, Response):
            return entry
        fields = {k: str(form.get(k) or "") for k in Entry.__slots__ if k != "at"}
        blocked = pages.can_record()
        if blocked:
            return form_page(request, pid, rid, fields, [blocked], 403)
        item = order(pid, rid)
        if item.resource.get("status") != "active":
            return form_page(request, pid, rid, fields, [_NOT_ACTIVE], 409)
        given = [g.resource for g in given_list(pid)]
        found = rules.duplicates(rid, item.resource, given, entry.at)
        if entry.outcome == "given" and found and form.get("checked_duplicate") != "yes":
            return confirm_page(request, pid, rid, entry, 409, again=True)
        who = node.fhir_user()
        made = rules.build(
            request_id=rid,
            request=item.resource,
            patient=pid,
            outcome=entry.outcome,
            effective=effective(entry.at),
            dose=entry.dose,
            route=entry.route,
            reason=entry.reason,
            reason_text=entry.reason_text,
            performer=who,
            performer_display="" if who else f"User {node.info.user}",
            encounter=_encounter(node.chart(pid, "Encounter")),
        )
        node.record("create", made, pid)
        label = rules.OUTCOMES[entry.outcome][1]
        pages.gate.flash(
            f"Saved on device: {rules.medicine_of(item.resource)}, {label.lower()} at "
            f"{views.moment(entry.at, with_date=False)}. It will be sent at the next sync."
        )
        return RedirectResponse(f"/patients/{pid}/meds", status_code=303)

    def given_item(pid: str, aid: str) -> ChartItem:
        found = node.read("MedicationAdministration", aid)
        if found.patient != pid:
            raise DeviceError(_NOT_THIS)
        return found

    def error_page(
        request: Request, pid: str, aid: str, errors: list[str] | None = None, status: int = 200
    ) -> Response:
        item = given_item(pid, aid)
        return pages.render(
            request,
            "meds_error",
            status=status,
            title="Mark as entered in error",
            banner=banner(pid),
            patient_id=pid,
            row=_row(item, states(pid), node.clock()),
            errors=errors or [],
            blocked=pages.can_record(),
        )

    def show_error(request: Request) -> Response:
        return error_page(request, request.path_params["pid"], request.path_params["aid"])

    async def mark_error(request: Request) -> Response:
        pid, aid = request.path_params["pid"], request.path_params["aid"]
        form = await form_of(request)
        return await run_in_threadpool(correct, request, pid, aid, form)

    def correct(request: Request, pid: str, aid: str, form: dict[str, str]) -> Response:
        if form.get("patient") != pid:
            return error_page(request, pid, aid, [_WRONG_PATIENT], 409)
        why = " ".join(str(form.get("reason") or "").split())[:200]
        if not why:
            return error_page(request, pid, aid, [_NO_REASON], 422)
        blocked = pages.can_record()
        if blocked:
            return error_page(request, pid, aid, [blocked], 403)
        item = given_item(pid, aid)
        if item.resource.get("status") == "entered-in-error":
            return error_page(request, pid, aid, [_ALREADY], 409)
        corrected = {k: v for k, v in item.resource.items() if k != "meta"}
        corrected["status"] = "entered-in-error"
        corrected["note"] = [
            *(item.resource.get("note") or ()),
            {"text": f"Entered in error: {why}"},
        ]
        node.record("correct", corrected, pid)
        pages.gate.flash(
            "Marked as entered in error on this device; it will be sent at the next sync. "
            "Record what really happened now."
        )
        ref = (item.resource.get("request") or {}).get("reference") or ""
        if ref.startswith("MedicationRequest/"):
            return RedirectResponse(f"/patients/{pid}/meds/{ref.split('/', 1)[1]}", 303)
        return RedirectResponse(f"/patients/{pid}/meds", status_code=303)

    return [
        Route("/patients/{pid}/meds", listing, methods=["GET"]),
        Route("/patients/{pid}/meds/given/{aid}/error", show_error, methods=["GET"]),
        Route("/patients/{pid}/meds/given/{aid}/error", mark_error, methods=["POST"]),
        Route("/patients/{pid}/meds/{rid}", show, methods=["GET"]),
        Route("/patients/{pid}/meds/{rid}", save, methods=["POST"]),
        Route("/patients/{pid}/meds/{rid}/check", check, methods=["POST"]),
    ]


def _of_order(item: ChartItem, rid: str) -> bool:
    ref = item.resource.get("request")
    return isinstance(ref, dict) and ref.get("reference") == f"MedicationRequest/{rid}"


def _measured(request: dict[str, Any]) -> bool:
    """Whether the order states its dose as a quantity (then the form starts with it)."""
    for dosage in request.get("dosageInstruction") or ():
        for rate in (dosage.get("doseAndRate") or ()) if isinstance(dosage, dict) else ():
            if isinstance(rate, dict) and isinstance(rate.get("doseQuantity"), dict):
                return True
    return False


def _order_view(item: ChartItem) -> dict[str, Any]:
    r = item.resource
    texts = [d.get("text") for d in r.get("dosageInstruction") or () if isinstance(d, dict)]
    return {
        "id": item.id,
        "drug": rules.medicine_of(r),
        "dose": rules.dose_of(r),
        "route": rules.route_of(r),
        "instruction": "; ".join(str(t) for t in texts if t),
        "interval": rules.interval_of(r).text,
    }


def _row(item: ChartItem, shown: dict[str, str], now: float) -> dict[str, Any]:
    r = item.resource
    dosage = r.get("dosage") if isinstance(r.get("dosage"), dict) else {}
    reasons = [views.concept(c) for c in r.get("statusReason") or ()]
    notes = [n.get("text") for n in r.get("note") or () if isinstance(n, dict)]
    return {
        "id": item.id,
        "drug": rules.medicine_of(r),
        "status": _STATUS_TEXT.get(str(r.get("status")), str(r.get("status"))),
        "wrong": r.get("status") == "entered-in-error",
        "dose": str((dosage or {}).get("text") or ""),
        "why": "; ".join(filter(None, [*reasons, *map(str, filter(None, notes))])),
        "when": rules.when_of(r),
        "state": shown.get(item.id) or views.state_label(None, item),
    }


def _encounter(encounters: list[ChartItem]) -> str | None:
    """The patient's in-progress Encounter on the device, if there is one."""
    live = [e for e in encounters if e.resource.get("status") == "in-progress"]
    return live[0].id if live else None
