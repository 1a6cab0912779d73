"""Tasks: the patient's outstanding Tasks, "My tasks", and one Task moved on or edited.

``GET /tasks`` lists the outstanding Tasks the user owns or nobody owns, for the patients the
device holds (:meth:`Node.my_tasks`); ``GET /patients/<id>/tasks`` the patient's outstanding
ones (and, below, those finished). ``GET /patients/<id>/tasks/<task id>`` shows one Task with
only the status moves the FHIR Task state machine allows from where it is, in plain words, and
its description and note to edit; the ``POST`` records the change as one update, saved on the
device at once (G1) and sent at the next sync, where a colleague's edit of another field merges
and the same field changed both ways goes to review (docs/clinician-app.md "Tasks").

Bad input (a move the task cannot make, a stopping move without a reason, text too long, no
change at all) comes back as a sentence over the form with what was typed still in it.
"""

from __future__ import annotations

from typing import Final

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from bedside.device.app.pages import Pages, form_of
from bedside.device.app.summary import Banner
from bedside.device.errors import DeviceError, Refused
from bedside.device.tasks import MAX_DESCRIPTION, MAX_NOTE, NEEDS_REASON, TaskChange, TaskView

__all__ = ["routes"]

_NOT_THIS_PATIENT: Final = (
    "This task is not for the patient whose chart is open, so it is not shown here."
)
_WRONG_PATIENT: Final = (
    "This form was opened for another patient than the one this page is about, so nothing was "
    "saved. Open the patient's tasks again and change it from there."
)
_KEEP: Final = "keep"


def routes(pages: Pages) -> list[Route]:
    node = pages.node

    def banner(pid: str) -> Banner:
        return pages.banner(pid)

    def names() -> dict[str, str]:
        return {p.id: p.display for p in node.patients()}

    def mine(request: Request) -> Response:
        found = node.my_tasks()
        return pages.render(
            request, "tasks", title="My tasks", heading="My tasks", tasks=found, names=names(),
            patient_id=None, done=[],
        )  # fmt: skip

    def patient_tasks(request: Request) -> Response:
        pid = request.path_params["pid"]
        every = node.tasks(pid, all_states=True)
        return pages.render(
            request,
            "tasks",
            title="Tasks",
            heading="Outstanding tasks",
            tasks=[t for t in every if t.outstanding],
            done=[t for t in every if not t.outstanding],
            names=names(),
            banner=banner(pid),
            patient_id=pid,
        )

    def find(pid: str, tid: str) -> TaskView:
        for task in node.tasks(pid, all_states=True):
            if task.id == tid:
                return task
        raise DeviceError(_NOT_THIS_PATIENT)

    def form_page(
        request: Request,
        pid: str,
        task: TaskView,
        typed: dict[str, str] | None = None,
        errors: list[str] | None = None,
        status: int = 200,
    ) -> Response:
        state = node.item_states(pid).get(("Task", task.id))
        return pages.render(
            request,
            "task",
            status=status,
            title="Task",
            banner=banner(pid),
            patient_id=pid,
            task=task,
            typed=typed
            or {
                "status": _KEEP,
                "description": task.description,
                "note": task.note,
                "reason": "",
            },
            errors=errors or [],
            blocked=pages.can_record(),
            needs_reason=sorted(NEEDS_REASON),
            sync_reason=state.reason if state is not None else None,
            sync_state=state.state if state is not None else None,
            max_description=MAX_DESCRIPTION,
            max_note=MAX_NOTE,
        )

    def show(request: Request) -> Response:
        pid, tid = request.path_params["pid"], request.path_params["tid"]
        return form_page(request, pid, find(pid, tid))

    async def save(request: Request) -> Response:
        pid, tid = request.path_params["pid"], request.path_params["tid"]
        form = await form_of(request)
        return await run_in_threadpool(change, request, pid, tid, form)

    def change(request: Request, pid: str, tid: str, form: dict[str, str]) -> Response:
        task = find(pid, tid)
        typed = {k: form.get(k, "")[:4000] for k in ("status", "description", "note", "reason")}
        if form.get("patient") != pid:
            return form_page(request, pid, task, typed, [_WRONG_PATIENT], 409)
        blocked = pages.can_record()
        if blocked:
            return form_page(request, pid, task, typed, [blocked], 403)
        move = typed["status"] or _KEEP
        asked = TaskChange(
            status=None if move == _KEEP else move,
            description=typed["description"] if "description" in form else None,
            note=typed["note"] if "note" in form else None,
            reason=typed["reason"],
        )
        try:
            node.update_task(tid, asked)
        except Refused as exc:
            return form_page(request, pid, task, typed, [str(exc)], 403)
        except DeviceError as exc:
            return form_page(request, pid, task, typed, [str(exc)], 422)
        pages.gate.flash(
            f"Saved on device: {task.title}. It will be sent at the next sync; if a colleague"
            " changed the same thing, it will be checked then."
        )
        return RedirectResponse(f"/patients/{pid}/tasks", status_code=303)

    return [
        Route("/tasks", mine, methods=["GET"]),
        Route("/patients/{pid}/tasks", patient_tasks, methods=["GET"]),
        Route("/patients/{pid}/tasks/{tid}", show, methods=["GET"]),
        Route("/patients/{pid}/tasks/{tid}", save, methods=["POST"]),
    ]
