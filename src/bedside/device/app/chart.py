"""The patient chart: the one-screen summary, each section's full list, each item's detail.

Every screen here is about one patient, named by id in the path (``/patients/<id>``: an id,
never a name), and carries the banner. An item is shown only under its own patient: asking for
another patient's record under this one's path is refused, so a mistyped or stale link never
shows one patient's data under another's banner. The detail gives the item's source and
provenance: recorded here or received from the server, by whom, device time and server time,
from which device, its server version, and its sync state.
"""

from __future__ import annotations

from typing import Any, Final

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bedside.clinical.news2_codes import component_key
from bedside.device.app import consent, escalate, glass, notes, photo, views
from bedside.device.app.pages import Pages
from bedside.device.app.summary import latest_vitals, summarise
from bedside.device.errors import DeviceError, Refused
from bedside.origin import source_line

__all__ = ["SECTION_KEYS", "routes"]

SECTION_KEYS: Final = (
    "problems",
    "medications",
    "allergies",
    "vitals",
    "tasks",
    "notes",
    "encounters",
)
_SHOWN: Final = 5  # lines per section on the summary
_NOT_THIS_PATIENT: Final = (
    "This record does not belong to the patient whose chart is open, so it is not shown here."
)
_WHO_KEYS: Final = ("performer", "recorder", "asserter", "requester", "author", "participant")


def routes(pages: Pages) -> list[Route]:
    node = pages.node

    def summary(request: Request) -> Response:
        pid = request.path_params["pid"]
        try:
            items = node.chart(pid)
        except Refused:  # not among their patients: say so, and offer break-glass if allowed
            return glass.refused(pages, request, pid)
        state = node.glass(pid)
        done = summarise(pid, items, node.item_states(pid))
        shown = {
            s.key: (latest_vitals(s) if s.key == "vitals" else s.lines[:_SHOWN])
            for s in done.sections
        }
        pinned = any(p.id == pid and p.pinned for p in node.patients())
        return pages.render(
            request,
            "chart",
            title="Chart",
            pinned=pinned,
            banner=done.banner,
            patient_id=pid,
            summary=done,
            shown=shown,
            score=done.latest_news2,
            glass=state if state.grant else None,
            glass_held=glass.held_text(state) if state.grant else "",
            concern=escalate.prompt(items),
            notes=notes.panel(node, pid, items),
            photos=photo.captions(node.photos(pid)),
            consents=consent.states(items, node.item_states(pid)),
            may_photo=node.may_create("DocumentReference"),
            may_consent=node.may_create("Consent"),
        )

    def section(request: Request) -> Response:
        pid, key = request.path_params["pid"], request.path_params["key"]
        if key not in SECTION_KEYS:
            raise DeviceError("There is no such part of the chart.")
        done = summarise(pid, node.chart(pid), node.item_states(pid))
        return pages.render(
            request,
            "section",
            title=done.section(key).title,
            banner=done.banner,
            patient_id=pid,
            section=done.section(key),
        )

    def item(request: Request) -> Response:
        pid = request.path_params["pid"]
        rtype, rid = request.path_params["type"], request.path_params["rid"]
        found = node.read(rtype, rid)
        if found.patient != pid:
            raise DeviceError(_NOT_THIS_PATIENT)
        state = node.item_states(pid).get((rtype, rid))
        resource = found.resource
        meta = resource.get("meta") or {}
        local = found.provenance or {}
        facts: list[tuple[str, str]] = [
            ("Source", _source(resource, state is not None)),
            ("Recorded by", _who(resource, state.user if state else local.get("user"))),
            ("Device time", (state.device_time if state else None) or "—"),
            (
                "Server time",
                (state.server_time if state else None)
                or meta.get("lastUpdated")
                or "not yet on the server",
            ),
            ("From device", (state.device if state else local.get("device")) or "—"),
            ("Server version", found.server_version or "not yet on the server"),
            ("Sync state", views.state_label(state.state if state else None, found)),
        ]
        if state is not None and state.reason:
            facts.append(("Server's reason", state.reason))
        return pages.render(
            request,
            "item",
            title=rtype,
            banner=pages.banner(pid),
            patient_id=pid,
            item=found,
            heading=_heading(resource),
            details=_details(resource, node.clock()),
            facts=facts,
            raw=orjson.dumps(resource, option=orjson.OPT_INDENT_2).decode(),
        )

    return [
        Route("/patients/{pid}", summary, methods=["GET"]),
        Route("/patients/{pid}/section/{key}", section, methods=["GET"]),
        Route("/patients/{pid}/item/{type}/{rid}", item, methods=["GET"]),
    ]


def _source(resource: dict[str, Any], recorded_here: bool) -> str:
    """Where the item came from: this device, the server, or an upstream system the server
    ingested it from (its name travels in the resource: :mod:`bedside.origin`)."""
    if recorded_here:
        return "Recorded on this device"
    return source_line(
        resource,
        lambda at: views.moment(views.parse_when(at)),
        otherwise="Received from the server",
    ).replace(", received ", ", received by the server ")


def _who(resource: dict[str, Any], user: object) -> str:
    if isinstance(user, str) and user:
        return f"You (user {user}), on this device"
    for key in _WHO_KEYS:
        value = resource.get(key)
        if key == "participant" and isinstance(value, list):
            value = [p.get("individual") for p in value if isinstance(p, dict)]
        text = views.reference(value)
        if text:
            return text
    return "not stated in the record"


def _heading(resource: dict[str, Any]) -> str:
    for key in ("code", "medicationCodeableConcept", "type", "vaccineCode", "class"):
        text = views.concept(resource.get(key))
        if text:
            return text
    return str(resource.get("description") or resource.get("title") or resource["resourceType"])


def _details(resource: dict[str, Any], now: float) -> list[tuple[str, str]]:
    """The item's own facts: status, value, when, notes, as plain text."""
    out: list[tuple[str, str]] = []
    if resource.get("status"):
        out.append(("Status", str(resource["status"]).replace("-", " ")))
    for key, label in (("clinicalStatus", "Clinical status"), ("category", "Category")):
        text = views.concept(resource.get(key))
        if text:
            out.append((label, text))
    value = views.value_text(resource) if resource.get("resourceType") == "Observation" else ""
    if value:
        out.append(("Value", value))
    when = views.when_of(resource)
    if when is not None:
        out.append(("When", f"{views.moment(when)} ({views.since(when, now)})"))
    for dosage in resource.get("dosageInstruction") or ():
        if isinstance(dosage, dict) and dosage.get("text"):
            out.append(("Dose", str(dosage["text"])))
    for component in resource.get("component") or ():
        if isinstance(component, dict):
            scored = component_key(component.get("code"))  # a NEWS2 score: its parameter
            name = f"{scored[0].label} score" if scored else views.concept(component.get("code"))
            shown = str(component.get("valueInteger", "")) or views.value_text(
                {"resourceType": "Observation", **component, "code": None}
            )
            if name:
                out.append((name, shown or "not recorded"))
    if resource.get("derivedFrom"):
        out.append(("Derived from", f"{len(resource['derivedFrom'])} observations"))
    for note in resource.get("note") or ():
        if isinstance(note, dict) and note.get("text"):
            out.append(("Note", str(note["text"])))
    return out
