"""`bedside support device|user`: what one device or user is doing, for the support desk.

PHI-free by default (:mod:`bedside.support.report`): states, codes, counts and times. With
``--reason "..."`` the patient and record ids are shown too; the lookup is audited either way
(``support-read``), and with a reason the patients shown and the reason itself are in the
audit entry (the reason in the audit store only, as a search query is). Runs against the
server's data dir as the operator, like ``bedside review``.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from bedside.cli.admin import ApiJson as Json
from bedside.cli.admin import Database, DataDir, _fail, _store, out, print_json
from bedside.cli.review import _audit
from bedside.errors import BedsideError

__all__ = ["Reason", "support_app", "support_device", "support_user"]

support_app = typer.Typer(
    no_args_is_help=True,
    help="Look into a device or user without patient data (add --reason to see patient ids).",
)

Reason = Annotated[
    str | None,
    typer.Option(
        "--reason",
        help="Why patient-identifying detail is needed (audited); without it none is shown.",
    ),
]


def _check_reason(reason: str | None) -> str | None:
    if reason is None:
        return None
    reason = " ".join(reason.split())
    if not 8 <= len(reason) <= 500:
        raise _fail("--reason must say why, in 8 to 500 characters.")
    return reason


def _run(
    what: str, key: str, reason: str | None, data_dir: Path, database: str | None
) -> dict[str, Any]:
    from bedside.audit.entry import SUCCESS, AuditEntry
    from bedside.support.report import device_report, user_report

    reason = _check_reason(reason)
    store = _store(data_dir, database)
    audit = _audit(store, data_dir, database)
    try:
        build = device_report if what == "device" else user_report
        report, patients = build(store, key, reveal=reason is not None)
        detail = "with patient detail, for a reason given" if reason else "PHI-free"
        audit.submit(
            [
                AuditEntry(
                    subtype="support-read",
                    action="R",
                    outcome=SUCCESS,
                    recorded_ms=int(time.time() * 1000),
                    subject="operator",
                    device=key if what == "device" else None,
                    patients=tuple(sorted(patients)),
                    query=reason,  # the reason: kept in the audit store only
                    description=f"support: {what} looked up ({detail})",
                )
            ]
        )
    except BedsideError as exc:
        raise _fail(str(exc)) from None
    finally:
        audit.close()
        store.close()
    return report


def _pairs(title: str, values: dict[str, Any] | None) -> None:
    table = Table(title=title, show_header=False)
    table.add_column("", style="bold")
    table.add_column("")
    for name, value in (values or {}).items():
        table.add_row(name, "-" if value is None else str(value))
    out.print(table)


def _rows(title: str, rows: list[dict[str, Any]], columns: list[str]) -> None:
    table = Table(*columns, title=title)
    for row in rows:
        cells = []
        for c in columns:
            value = row.get(c)
            cells.append(" → ".join(value) if isinstance(value, list) else str(value or "-"))
        table.add_row(*cells)
    out.print(table)


@support_app.command("device")
def support_device(
    device_id: Annotated[str, typer.Argument(help="The device id (bedside admin device list).")],
    reason: Reason = None,
    as_json: Json = False,
    data_dir: DataDir = Path("var"),
    database: Database = None,
) -> None:
    """A device: registry entry, last health report and push, event lifecycle, reviews, grants."""
    report = _run("device", device_id, reason, data_dir, database)
    if as_json:
        print_json(report)
        return
    _pairs("Device", report["device"])
    _pairs("Last health report", report["telemetry"] or {"reported": "never"})
    _pairs("Last push", report["last_push"] or {"at": "never"})
    _rows("Events (server side)", report["events"], ["seq", "idempotency_key", "type", "lifecycle"])
    columns = ["id", "seq", "type", "code", "state", "role", "age_s"]
    if reason:
        columns += ["patient", "resource"]
    _rows("Review items", report["review_items"], columns)
    _rows("Grants", report["grants"], ["grant", "client", "state", "created", "expires"])


@support_app.command("user")
def support_user(
    username: Annotated[str, typer.Argument(help="The user's username.")],
    reason: Reason = None,
    as_json: Json = False,
    data_dir: DataDir = Path("var"),
    database: Database = None,
) -> None:
    """A user: account, every grant and its state, and their devices."""
    report = _run("user", username, reason, data_dir, database)
    if as_json:
        print_json(report)
        return
    _pairs("User", report["user"])
    _rows("Grants", report["grants"], ["grant", "client", "device", "state", "created", "expires"])
    _rows("Devices", report["devices"], ["device_id", "status", "app_version", "unsent"])
