"""`bedside admin assign add|remove|list`: ward and patient assignments for clinicians.

A user is named by username (their fhirUser is looked up) or directly as Practitioner/<id>.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from bedside.cli.admin import Database, DataDir, _fail, _store, console, out
from bedside.errors import BedsideError

__all__ = ["Location", "Patient", "User", "add", "assign_app", "listing", "remove"]

assign_app = typer.Typer(no_args_is_help=True, help="Ward and patient assignments for clinicians.")

User = Annotated[str, typer.Option("--user", help="A username, or Practitioner/<id>.")]
Location = Annotated[str | None, typer.Option("--location", help="A Location (ward) id.")]
Patient = Annotated[str | None, typer.Option("--patient", help="A Patient id.")]


def _target(location: str | None, patient: str | None) -> tuple[str, str]:
    if (location is None) == (patient is None):
        raise _fail("Give exactly one of --location or --patient.")
    return ("location", location) if location is not None else ("patient", patient or "")


def _user_ref(store: object, user: str) -> str:
    from bedside.auth.users import Users

    if "/" in user:
        return user
    found = Users(store).by_username(user)  # type: ignore[arg-type]
    if found is None:
        raise _fail(f"There is no user named '{user}'.")
    if not found.fhir_user:
        raise _fail(f"The user '{user}' has no fhirUser; give Practitioner/<id> instead.")
    return found.fhir_user


def _change(
    adding: bool,
    user: str,
    location: str | None,
    patient: str | None,
    data_dir: Path,
    db: str | None,
) -> None:
    from bedside.policy import assignments

    kind, target = _target(location, patient)
    store = _store(data_dir, db)
    try:
        ref = _user_ref(store, user)
        change = assignments.add if adding else assignments.remove
        changed = change(store, ref, kind, target)
    except BedsideError as exc:
        raise _fail(str(exc)) from None
    finally:
        store.close()
    if adding:
        console.print(f"{'Assigned' if changed else 'Already assigned:'} {ref} to {kind} {target}.")
    elif not changed:
        raise _fail(f"{ref} is not assigned to {kind} {target}.")
    else:
        console.print(f"Removed the assignment of {ref} to {kind} {target}.")


@assign_app.command("add")
def add(
    user: User,
    location: Location = None,
    patient: Patient = None,
    data_dir: DataDir = Path("var"),
    database: Database = None,
) -> None:
    """Assign a clinician to a ward (Location) or a patient."""
    _change(True, user, location, patient, data_dir, database)


@assign_app.command("remove")
def remove(
    user: User,
    location: Location = None,
    patient: Patient = None,
    data_dir: DataDir = Path("var"),
    database: Database = None,
) -> None:
    """Remove an assignment; the access it gave ends at the user's next request."""
    _change(False, user, location, patient, data_dir, database)


@assign_app.command("list")
def listing(
    user: Annotated[str | None, typer.Option("--user", help="Only this user.")] = None,
    data_dir: DataDir = Path("var"),
    database: Database = None,
) -> None:
    """List assignments."""
    from bedside.policy import assignments

    store = _store(data_dir, database)
    try:
        ref = _user_ref(store, user) if user else None
        rows = assignments.listing(store, ref)
    finally:
        store.close()
    table = Table("User", "Kind", "Target", "Since (UTC)")
    for a in rows:
        since = datetime.fromtimestamp(a.created_at, UTC).strftime("%Y-%m-%d %H:%M")
        table.add_row(a.user_ref, a.kind, a.target, since)
    out.print(table)
