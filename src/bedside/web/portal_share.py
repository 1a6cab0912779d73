"""The portal's "Share my record", "My shares and links" and "Connected apps" pages.

    GET  /portal/share                         who / what / what for / how long
    POST /portal/share/preview                 exactly what will be shared; nothing stored yet
    POST /portal/share/confirm                 a Consent (named recipient) or a SMART Health Link
    GET  /portal/shares                        the patient's shares and links
    POST /portal/shares/{id}/withdraw          a Consent set to inactive
    POST /portal/links/{id}/revoke             a link ended
    GET  /portal/apps                          apps the patient authorized (their grants)
    POST /portal/apps/{grant}/disconnect       the grant and its refresh tokens revoked

Every POST carries the session's CSRF token. The preview and the confirm read the same form
fields through :func:`_choice`, so what was previewed is what is stored.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Final

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bedside.auth.browser_sessions import BrowserSession
from bedside.auth.scopes import ScopeSet
from bedside.auth.wording import describe as describe_scope
from bedside.errors import CsrfRefused, FhirError, InvalidRequest, NotFound
from bedside.healthlinks.service import ONE_RESULT
from bedside.portal import sharing
from bedside.portal.accesses import app_last_used
from bedside.portal.data_classes import DATA_CLASSES, chosen
from bedside.portal.record import PortalRecord, when_words
from bedside.portal.results import group_results
from bedside.rest import FhirRequest
from bedside.web.health_links_api import link_summary
from bedside.web.portal_views import day_words, qr_svg, render

if TYPE_CHECKING:
    from bedside.web.portal import Portal

__all__ = ["Work", "share_routes"]

_LINK: Final = "link"
_GRANT_ID: Final = re.compile(r"[A-Za-z0-9_-]{1,80}")
_FHIR_ID: Final = re.compile(r"[A-Za-z0-9\-.]{1,64}")  # FHIR R4 datatypes.html#id
_STATE_WORDS: Final = {
    "active": "Open",
    "expired": "Expired",
    "revoked": "Withdrawn",
    "disabled": "Closed after too many wrong passcodes",
}

Work = Callable[[BrowserSession, PortalRecord, FormData], str]


def _days(form: FormData) -> int:
    raw = str(form.get("days") or sharing.DEFAULT_DAYS).strip()
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 3:
        raise InvalidRequest("How long must be a number of days from 1 to 365.")
    return int(raw)


def _form_state(form: FormData | None) -> dict[str, Any]:
    if form is None:
        return {"who": "", "what": [], "days": sharing.DEFAULT_DAYS, "label": ""}
    return {
        "who": str(form.get("who", "")),
        "what": [str(w) for w in form.getlist("what")],
        "days": str(form.get("days", sharing.DEFAULT_DAYS)),
        "label": str(form.get("label", ""))[:80],
    }


def share_routes(portal: Portal) -> list[Route]:
    app = portal.app

    async def change(request: Request, work: Work) -> Response:
        session = await app.session(request)
        if session is None:
            return app.sign_in_redirect(request)
        form = await app.form(request)
        try:
            app.check_csrf(request, session, form)
        except CsrfRefused as exc:
            return app.message("Not changed", str(exc), status=403, alert=True)
        try:
            html = await run_in_threadpool(lambda: work(session, portal.record(session), form))
        except FhirError as exc:
            return app.message(
                "Not done", exc.message, status=exc.status, alert=True, link=("/portal/", "Home")
            )
        return app.page(html)

    def share_form(
        session: BrowserSession, record: PortalRecord, request: Request, **extra: Any
    ) -> str:
        return render(
            "share",
            recipients=sharing.recipients(record),
            classes=DATA_CLASSES,
            purposes=sharing.PURPOSES,
            **{"form": _form_state(None), "error": None, "single": None, **extra},
            **portal.base(session, request, "Share my record"),
        )

    async def share_page(request: Request) -> Response:
        result = request.query_params.get("result")

        def build(session: BrowserSession, record: PortalRecord) -> str:
            single = _single(record, result) if result else None
            return share_form(session, record, request, single=single)

        return await portal.show(request, build)

    async def preview(request: Request) -> Response:
        def work(session: BrowserSession, record: PortalRecord, form: FormData) -> str:
            try:
                words, hidden = _preview(record, form)
            except InvalidRequest as exc:
                result = str(form.get("result", "")) or None
                return share_form(
                    session,
                    record,
                    request,
                    form=_form_state(form),
                    error=exc.message,
                    single=_single(record, result) if result else None,
                )
            return render(
                "preview",
                preview=words,
                hidden=hidden,
                **portal.base(session, request, "Check before you share"),
            )

        return await change(request, work)

    async def confirm(request: Request) -> Response:
        def work(session: BrowserSession, record: PortalRecord, form: FormData) -> str:
            base = portal.base(session, request, "Shared")
            who = str(form.get("who", ""))
            if who == _LINK:
                passcode = str(form.get("passcode", "")) or None
                made = portal.links.make(
                    session.caller,
                    what=[str(w) for w in form.getlist("what")],
                    label=str(form.get("label", "")) or None,
                    days=_days(form),
                    passcode=passcode,
                    result=str(form.get("result", "")) or None,
                )
                link = {
                    "viewer_url": made.viewer_url,
                    "passcode": passcode is not None,
                    "until": day_words(made.payload.exp),
                }
                message = "Your link is ready. Send it, or show the QR code."
                return render(
                    "made",
                    heading="Link made",
                    message=message,
                    link=link,
                    qr=qr_svg(made.viewer_url),
                    **base,
                )
            result = str(form.get("result", "")) or None
            if result is not None and not _FHIR_ID.fullmatch(result):
                raise NotFound("There is no such result in your record.")
            what = [str(w) for w in form.getlist("what")]
            choice = sharing.choose(record, who, what, "TREAT", _days(form), result=result)
            sharing.share(record, choice)
            until = when_words(choice.end(record.clock()))
            what_words = "this result" if choice.result is not None else "what you chose"
            message = f"{choice.recipient.name} can now see {what_words} until {until}."
            return render("made", heading="Shared", message=message, link=None, **base)

        return await change(request, work)

    async def shares_page(request: Request) -> Response:
        def build(session: BrowserSession, record: PortalRecord) -> str:
            now = portal.links.clock()
            words = {c.name: c.words for c in DATA_CLASSES} | {ONE_RESULT: "one result"}
            links = []
            for row in portal.links.links(session.caller):
                item = link_summary(row, now)
                item["state_words"] = _STATE_WORDS.get(item["state"], item["state"])
                if item["state"] == "active" and row.exp:
                    item["state_words"] += f" until {day_words(row.exp)}"
                item["what_words"] = ", ".join(words.get(w, w) for w in row.what).capitalize()
                item["created_words"] = day_words(row.created_at)
                links.append(item)
            return render(
                "shares",
                shares=sharing.shares(record),
                links=links,
                **portal.base(session, request, "My shares and links"),
            )

        return await portal.show(request, build)

    async def withdraw(request: Request) -> Response:
        consent_id = request.path_params["consent_id"][:64]

        def work(session: BrowserSession, record: PortalRecord, form: FormData) -> str:
            if not _FHIR_ID.fullmatch(consent_id):
                raise NotFound("There is no active share with that id.")
            sharing.withdraw(record, consent_id)
            return render(
                "made",
                heading="Share revoked",
                message="That share has ended. They can no longer see what it shared.",
                link=None,
                **portal.base(session, request, "Share revoked"),
            )

        return await change(request, work)

    async def revoke_link(request: Request) -> Response:
        link_id = request.path_params["link_id"][:64]

        def work(session: BrowserSession, record: PortalRecord, form: FormData) -> str:
            portal.links.revoke(session.caller, link_id)
            return render(
                "made",
                heading="Link revoked",
                message="That link no longer opens anything.",
                link=None,
                **portal.base(session, request, "Link revoked"),
            )

        return await change(request, work)

    async def apps_page(request: Request) -> Response:
        def build(session: BrowserSession, record: PortalRecord) -> str:
            apps = []
            for grant in portal.auth.grants.for_user(session.caller.subject):
                if grant.client_id == app.spec.client_id:
                    continue
                apps.append(
                    {
                        "id": grant.id,
                        "name": portal.app_name(grant.client_id) or grant.client_id,
                        "may": "; ".join(describe_scope(ScopeSet.parse(grant.scope)))
                        or "sign you in",
                        "since": day_words(grant.created_at),
                        "last_used": _last_used(record, grant.client_id),
                    }
                )
            return render("apps", apps=apps, **portal.base(session, request, "Connected apps"))

        return await portal.show(request, build)

    async def disconnect(request: Request) -> Response:
        grant_id = request.path_params["grant_id"][:80]

        def work(session: BrowserSession, record: PortalRecord, form: FormData) -> str:
            caller = session.caller
            if not _GRANT_ID.fullmatch(grant_id):
                raise NotFound("There is no such connected app.")
            grant = portal.auth.grants.get(grant_id)
            if grant is None or grant.user_id != caller.subject or grant.revoked_at is not None:
                raise NotFound("There is no such connected app.")
            if grant.client_id == app.spec.client_id:
                raise NotFound("There is no such connected app.")
            portal.auth.grants.revoke(grant.id, "disconnected by the patient in the portal")
            portal.auth.audit(
                "token-revoke",
                subject=caller.subject,
                user_ref=caller.fhir_user,
                role=caller.role,
                client_id=grant.client_id,
                description="an app's access revoked by the user",
            )
            name = portal.app_name(grant.client_id) or grant.client_id
            return render(
                "made",
                heading="App disconnected",
                message=f"{name} can no longer read your record.",
                link=None,
                **portal.base(session, request, "App disconnected"),
            )

        return await change(request, work)

    return [
        Route("/portal/share", share_page, methods=["GET"]),
        Route("/portal/share/preview", preview, methods=["POST"]),
        Route("/portal/share/confirm", confirm, methods=["POST"]),
        Route("/portal/shares", shares_page, methods=["GET"]),
        Route("/portal/shares/{consent_id}/withdraw", withdraw, methods=["POST"]),
        Route("/portal/links/{link_id}/revoke", revoke_link, methods=["POST"]),
        Route("/portal/apps", apps_page, methods=["GET"]),
        Route("/portal/apps/{grant_id}/disconnect", disconnect, methods=["POST"]),
    ]


def _single(record: PortalRecord, result: str) -> dict[str, str]:
    """One of the patient's results in words, read as the patient (404 if not theirs)."""
    if not _FHIR_ID.fullmatch(result):
        raise NotFound("There is no such result in your record.")
    obs = record.repo.handle(FhirRequest("GET", f"Observation/{result}")).resource or {}
    if not group_results([obs]):
        raise NotFound("There is no such result in your record.")
    return {"id": result, "words": sharing.result_words(obs)}


def _last_used(record: PortalRecord, client_id: str) -> str:
    ms = app_last_used(record, client_id)
    if ms is None:
        return "never"
    at = datetime.fromtimestamp(ms / 1000, UTC)
    return f"{at.day} {at:%B %Y} at {at:%H:%M} UTC"


def _preview(record: PortalRecord, form: FormData) -> tuple[dict[str, Any], list[tuple[str, str]]]:
    """The words of the preview and the fields the confirm form carries forward."""
    who = str(form.get("who", ""))
    what = [str(w) for w in form.getlist("what")]
    days = _days(form)
    hidden = [("who", who), ("days", str(days)), *(("what", w) for w in what)]
    result = str(form.get("result", "")) or None
    if result is not None and not _FHIR_ID.fullmatch(result):
        raise NotFound("There is no such result in your record.")
    if who == _LINK:
        label = str(form.get("label", "")).strip()[:80]
        hidden.append(("label", label))
        if result is not None:
            hidden.append(("result", result))
            what_words = [f"this result only: {_single(record, result)['words']}"]
        else:
            classes = chosen(what)
            counts = {c.name: sum(len(record.search(t)) for t in c.types) for c in classes}
            what_words = [f"{c.words} ({counts[c.name]} now)" for c in classes]
        words = {
            "who": "Anyone you give the link to (and the passcode, if you set one below)",
            "what": what_words,
            "why": "not limited to a purpose: whoever has the link can see it",
            "until": day_words(record.clock() + days * 86400),
            "is_link": True,
            "note": "A link holds a copy of what you chose as it is now; later changes are not"
            " in it.",
        }
        return words, hidden
    choice = sharing.choose(record, who, what, "TREAT", days, result=result)
    hidden.append(("purpose", choice.purpose))
    if result is not None:
        hidden.append(("result", result))
    return sharing.preview(record, choice), hidden
