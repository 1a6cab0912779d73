"""Building and running the clinician app: the one place its objects are made.

:func:`build_app` wires the screens (one module each) behind the
:class:`~bedside.device.app.guard.Guard`; :func:`serve` binds 127.0.0.1 only (never a public
interface), starts the node's timer (idle lock, retention) and the sync thread, shows the
launch URL (or opens the browser at it), and runs until interrupted, locking the device on
the way out.

Uvicorn's access log is off: a path holds patient ids, and nothing about a patient is logged.
"""

from __future__ import annotations

import gc
import socket
import threading
import time
import webbrowser
from collections.abc import Callable
from pathlib import Path
from typing import Final

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from bedside.device.app import (
    chart,
    consent,
    escalate,
    glass,
    meds,
    notes,
    observe,
    outbox,
    patients,
    photo,
    pinning,
    review,
    signoff,
    tasks,
    trend,
    unlock,
)
from bedside.device.app.gate import Gate
from bedside.device.app.guard import Guard
from bedside.device.app.pages import Pages
from bedside.device.app.syncer import Syncer
from bedside.device.errors import DeviceError
from bedside.device.node import Node
from bedside.device.ticker import Ticker

__all__ = ["LOOPBACK", "build_app", "serve", "tune_gc"]

LOOPBACK: Final = "127.0.0.1"
_STATIC: Final = Path(__file__).parent / "static"


def tune_gc() -> None:
    """Fewer, cheaper garbage collections for a process that builds pages from JSON.

    A chart parses a few hundred resources into thousands of short-lived dicts; with CPython's
    default thresholds a full collection lands in about one request in twenty and doubles its
    time (bench/app.py). Objects alive after start-up are frozen out of every collection, and
    the young generation is collected every 20,000 allocations instead of 700.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(20_000, 20, 20)


def build_app(pages: Pages) -> Guard:
    """The ASGI app: every screen's routes behind the guard."""

    def home(request: Request) -> Response:
        return RedirectResponse("/patients", status_code=303)

    def failed(request: Request, exc: Exception) -> Response:
        return pages.error(request, exc)

    routes = [
        Route("/", home, methods=["GET"]),
        *unlock.routes(pages),
        *patients.routes(pages),
        *observe.routes(pages),
        *meds.routes(pages),
        *escalate.routes(pages),
        *pinning.routes(pages),
        *trend.routes(pages),
        *glass.routes(pages),
        *chart.routes(pages),
        *tasks.routes(pages),
        *outbox.routes(pages),
        *review.routes(pages),
        *notes.routes(pages),
        *signoff.routes(pages),
        *photo.routes(pages),
        *consent.routes(pages),
        Mount("/static", StaticFiles(directory=_STATIC), name="static"),
    ]
    app = Starlette(routes=routes, exception_handlers={DeviceError: failed})
    return Guard(app, pages.gate)


def serve(
    home: Path,
    *,
    port: int = 0,
    open_browser: bool = True,
    show: Callable[[str], None] = print,
    sync_every: float = 180.0,
    tick_every: float = 5.0,
) -> None:
    """Run the app for the device at ``home`` until interrupted (Ctrl+C)."""
    node = Node(home)
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind((LOOPBACK, port))
    gate = Gate(listener.getsockname()[1])
    syncer = Syncer(node, every=sync_every)
    pages = Pages(node, gate, syncer, Path(home))
    config = uvicorn.Config(
        build_app(pages),
        log_level="warning",
        access_log=False,
        lifespan="off",
        server_header=False,
        date_header=False,
    )
    server = uvicorn.Server(config)
    url = gate.launch_url()

    def announce() -> None:
        deadline = time.monotonic() + 30
        while not server.started and time.monotonic() < deadline:
            time.sleep(0.05)
        if open_browser:
            webbrowser.open(url)
        show(url)

    tune_gc()
    threading.Thread(target=announce, name="bedside-app-launch", daemon=True).start()
    ticker = Ticker(node, every=tick_every).start()
    syncer.start()
    try:
        server.run(sockets=[listener])
    finally:
        syncer.stop()
        ticker.stop()
        node.lock()
        listener.close()
