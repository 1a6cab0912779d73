"""The unlock screen: the PIN through :meth:`Node.unlock`, attempts left, and the way back in
when the device is locked out (an online sign-in). Also ``POST /lock``.

A wrong PIN says how many attempts are left (:class:`~bedside.device.errors.WrongPin`); after
the last one, or when the offline period has run out, only an online sign-in opens the device
(:class:`~bedside.device.errors.KeysLocked`) and the page says how. After an unlock the browser
goes back to where it was (``next``: a path of ids, never PHI), where a form's draft waits.
"""

from __future__ import annotations

from typing import Final

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from bedside.device.app.pages import Pages, form_of, safe_next
from bedside.device.errors import DeviceError, KeysLocked, WrongPin

__all__ = ["routes"]

_LOCKED_OUT: Final = (
    "This device is locked: a PIN can no longer open it. Sign in online to unlock it and choose "
    "a new PIN. Connect to the network and run: bedside device unlock --online --home {home}"
)


def routes(pages: Pages) -> list[Route]:
    node = pages.node

    def page(request: Request, next_path: str, error: str = "", status: int = 200) -> Response:
        keys = node.status().keys
        return pages.render(
            request,
            "unlock",
            status=status,
            title="Unlock",
            next=next_path,
            error=error,
            locked_out=keys.locked,
            locked_out_text=_LOCKED_OUT.format(home=pages.home),
            attempts_left=keys.attempts_left,
        )

    def show(request: Request) -> Response:
        next_path = safe_next(request.query_params.get("next"))
        if node.unlocked and node.status().unlocked:  # status() idle-locks when it is time
            return RedirectResponse(next_path, status_code=303)
        return page(request, next_path)

    async def unlock(request: Request) -> Response:
        form = await form_of(request)
        next_path = safe_next(str(form.get("next") or ""))
        pin = str(form.get("pin") or "")
        if not pin:
            return page(request, next_path, "Enter your PIN.", 400)
        try:
            await run_in_threadpool(node.unlock, pin)  # argon2id: off the event loop
        except WrongPin as exc:
            return page(request, next_path, str(exc), 401)
        except KeysLocked:
            return page(request, next_path, "", 403)
        except DeviceError as exc:
            return page(request, next_path, str(exc), 409)
        return RedirectResponse(next_path, status_code=303)

    def lock(request: Request) -> Response:
        node.lock()
        pages.gate.flash("The device is locked.")
        return RedirectResponse("/unlock", status_code=303)

    return [
        Route("/unlock", show, methods=["GET"]),
        Route("/unlock", unlock, methods=["POST"]),
        Route("/lock", lock, methods=["POST"]),
    ]
