"""`bedside device app --home DIR [--port P] [--no-browser] [--sync-every MIN]`: the clinician app.

The app is a web app served by the device node itself on 127.0.0.1 (docs/clinician-app.md), so
it works with the server unreachable. It opens the default browser at a one-time launch URL;
with ``--no-browser`` it prints that URL as the last line of standard output instead (for a
browser of your choice, or a test driving one). Ctrl+C stops it and locks the device.
"""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from bedside.cli.device import Home, _plain_errors, console, device_app

__all__ = ["app_command"]


@device_app.command("app")
def app_command(
    home: Home,
    port: Annotated[
        int, typer.Option("--port", help="The loopback port (default: any free port).")
    ] = 0,
    no_browser: Annotated[
        bool, typer.Option("--no-browser", help="Print the launch URL instead of opening it.")
    ] = False,
    sync_every: Annotated[
        float,
        typer.Option(
            "--sync-every", help="Minutes between automatic syncs while the server answers."
        ),
    ] = 3.0,
) -> None:
    """Start the clinician app on 127.0.0.1 and open the browser at its launch URL."""
    from bedside.device.app.server import serve

    def show(url: str) -> None:
        console.print("The Bedside clinician app is running. Ctrl+C stops it and locks the device.")
        if no_browser:
            console.print("Open this address once, in the browser you will use:")
        sys.stdout.write(url + "\n")
        sys.stdout.flush()

    if not 0 <= port <= 65535:
        raise typer.BadParameter("A port is a number from 1 to 65535.")
    if not sync_every > 0:
        raise typer.BadParameter("--sync-every is a number of minutes above 0.")
    with _plain_errors():
        serve(home, port=port, open_browser=not no_browser, show=show, sync_every=sync_every * 60)
