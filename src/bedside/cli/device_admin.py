"""`bedside admin device list|revoke|wipe`: the device registry from the command line.

The same registry operations as ``GET /devices`` and ``POST /devices/{id}/revoke|wipe``, run
straight against the server's database (a running server sees the change at its next request),
and audited like them: each change is chained into the audit trail in its own transaction, with
the operator as the agent. ``--json`` prints what the HTTP API returns, for scripts.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Column, Table

from bedside import settings as settings_mod
from bedside.cli.admin import ApiJson as Json
from bedside.cli.admin import Database, DataDir, _fail, _store, console, out, print_json
from bedside.errors import BedsideError

if TYPE_CHECKING:
    from bedside.fleet.registry import Device

__all__ = ["DeviceId", "device_app", "device_list", "device_revoke", "device_wipe"]

device_app = typer.Typer(
    no_args_is_help=True, help="Devices enrolled with this server: list, revoke, wipe."
)

DeviceId = Annotated[str, typer.Argument(help="The device id (see `bedside admin device list`).")]


@device_app.command("list")
def device_list(
    status: Annotated[
        str | None, typer.Option("--status", help="Only devices that are active, revoked or wipe.")
    ] = None,
    as_json: Json = False,
    data_dir: DataDir = Path("var"),
    database: Database = None,
) -> None:
    """List enrolled devices, newest first (never their escrow keys)."""
    from bedside.fleet import registry

    store = _store(data_dir, database)
    try:
        with store.records() as db:
            devices = registry.listing(db, status=status)
    except BedsideError as exc:
        raise _fail(str(exc)) from None
    finally:
        store.close()
    if as_json:
        print_json(devices)
        return
    from bedside.fleet.wipes import short

    table = Table("User", "Status", "App", "Posture", "Pins", "Registered (UTC)", "Wipe")
    table.columns.insert(0, Column("Device", no_wrap=True))
    for d in devices:
        posture = ", ".join(f"{k}={v}" for k, v in d["posture"].items() if v is not None)
        table.add_row(
            d["device_id"],
            d["username"] or d["user"],
            d["status"],
            d["app_version"],
            posture or "unknown",
            str(d["pins"]),
            d["registered_at"],
            short(d["status"], d["wiped"]),
        )
    out.print(table)


@device_app.command("revoke")
def device_revoke(
    device_id: DeviceId,
    as_json: Json = False,
    data_dir: DataDir = Path("var"),
    database: Database = None,
) -> None:
    """Revoke a device: its tokens stop at once and it can no longer refresh them."""
    from bedside.fleet import registry

    _change(device_id, "device-revoke", registry.revoke, as_json, data_dir, database)


@device_app.command("wipe")
def device_wipe(
    device_id: DeviceId,
    as_json: Json = False,
    data_dir: DataDir = Path("var"),
    database: Database = None,
) -> None:
    """Flag a device for wipe: at its next contact it learns so and destroys its keys."""
    from bedside.fleet import registry

    _change(device_id, "device-wipe", registry.wipe, as_json, data_dir, database)


def _change(
    device_id: str,
    subtype: str,
    change: Callable[..., tuple[Device, bool]],
    as_json: bool,
    data_dir: Path,
    database: str | None,
) -> None:
    from bedside.audit.chain import AuditLog
    from bedside.audit.entry import SUCCESS
    from bedside.fleet.access import PAST
    from bedside.fleet.audit import device_entry

    cfg = settings_mod.resolve(data_dir, database)
    server = settings_mod.recorded_fhir_base(cfg.data_dir) or cfg.fhir_base
    store = _store(data_dir, database)
    audit = AuditLog(store, server=server)
    try:
        with store.records(write=True) as db:
            now = time.time()
            device, changed = change(db, device_id, now=now)
            words = PAST[device.status]
            entry = device_entry(
                subtype,
                "U",
                SUCCESS,
                device=device.device_id,
                caller=None,
                now=now,
                description=f"device {words}" if changed else f"device was already {words}",
            )
            audit.append(db, [entry])
    except BedsideError as exc:
        raise _fail(str(exc)) from None
    finally:
        audit.close()
        store.close()
    if as_json:
        print_json(device.summary())
    elif changed:
        console.print(f"Device {device.device_id} is now {words}.")
    else:
        console.print(f"Device {device.device_id} was already {words}.")
