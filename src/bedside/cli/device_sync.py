"""`bedside device sync --home DIR`: push the outbox, then pull what changed for its patients.

The protocol is docs/sync-protocol.md. The refresh token lives only inside the encrypted store,
so the command unlocks the device with the PIN, trades the refresh token for an access token
that names the device (storing the rotated refresh token at once, before anything else can
fail), and runs :func:`bedside.device.sync.sync` with a progress bar. The summary is counts
only.
"""

from __future__ import annotations

from typing import Any

import orjson
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from rich.table import Table

from bedside.cli.device import Home, Json, PinStdin, _unlocked, console, device_app, out

__all__ = ["sync_command"]


@device_app.command("sync")
def sync_command(home: Home, pin_stdin: PinStdin = False, as_json: Json = False) -> None:
    """Send what this device recorded, then receive what changed for its patients."""
    from bedside.device.remote import Remote
    from bedside.device.sync import access_token, sync

    with _unlocked(home, pin_stdin) as node, Remote(node.info.server, clock=node.clock) as remote:
        token = access_token(node, remote)  # a DeviceError is one sentence (_unlocked)
        if as_json:
            summary = sync(node, remote, token)
        else:
            with Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                console=console,
                transient=True,
            ) as bar:
                tasks: dict[str, Any] = {}

                def progress(phase: str, done: int, total: int | None) -> None:
                    if phase not in tasks:
                        label = "Sending" if phase == "push" else "Receiving"
                        tasks[phase] = bar.add_task(label, total=total)
                    bar.update(tasks[phase], completed=done, total=total)

                summary = sync(node, remote, token, progress=progress)
    counts = {
        "sent": summary.sent,
        "confirmed": summary.confirmed,
        "merged": summary.merged,
        "needs_review": summary.needs_review,
        "rejected": summary.rejected,
        "deferred": summary.deferred,
        "photos_sent": summary.uploaded,
        "received": summary.received,
        "deleted": summary.deleted,
        "purged": summary.purged,
        "reviews_settled": summary.reviews_settled,
        "skew_ms": summary.skew_ms,
    }
    if as_json:
        out.print_json(orjson.dumps({**counts, "reasons": summary.reasons}).decode())
        return
    table = Table(title="Sync", show_header=False)
    for name, value in counts.items():
        if value is not None:
            table.add_row(name.replace("_", " "), str(value))
    out.print(table)
    for reason in summary.reasons:
        out.print(f"Rejected: {reason}")
