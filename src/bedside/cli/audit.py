"""`bedside audit verify`: check the audit trail's hash chain from the command line.

Exit status 0 when the chain is intact, 1 when it is broken (or cannot be read), so it can run
from cron or a monitoring check. It reads in one read-only transaction (a consistent snapshot) and
never writes, so it is safe against a running server.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from bedside import settings as settings_mod
from bedside.errors import BedsideError

audit_app = typer.Typer(no_args_is_help=True, help="The audit trail (AuditEvents, hash-chained).")
console = Console(stderr=True, soft_wrap=True)

DataDir = Annotated[
    Path, typer.Option("--data-dir", help="The server's data folder (as given to serve).")
]
Database = Annotated[
    str | None,
    typer.Option("--database", help="sqlite:///path or postgresql://... (default: the server's)."),
]


def _database_url(data_dir: Path, database: str | None) -> str:
    """Explicit --database, else the database the server recorded, else the default SQLite."""
    cfg = settings_mod.resolve(data_dir, database)
    return database or settings_mod.recorded_database(cfg.data_dir) or cfg.database_url


@audit_app.command("verify")
def verify_command(data_dir: DataDir = Path("var"), database: Database = None) -> None:
    """Walk the audit chain and report whether it is intact."""
    from bedside.audit.verify import verify
    from bedside.store import open_store

    url = _database_url(data_dir, database)
    if url.startswith("sqlite:///") and not Path(url[len("sqlite:///") :]).is_file():
        console.print(f"[red]Error:[/red] there is no database at {url[len('sqlite:///') :]}.")
        raise typer.Exit(code=1)
    try:
        store = open_store(url)
    except BedsideError as exc:
        console.print(f"[red]Error:[/red] {exc}")
        raise typer.Exit(code=1) from None
    try:
        with store.read() as session:
            result = verify(session.records())
    finally:
        store.close()
    if result.ok:
        typer.echo(f"Audit chain intact: {result.checked} records.")
        return
    where = f" at record {result.first_broken}" if result.first_broken is not None else ""
    typer.echo(f"Audit chain broken{where}: {result.reason}")
    raise typer.Exit(code=1)


__all__ = ["DataDir", "Database", "audit_app", "console", "verify_command"]
