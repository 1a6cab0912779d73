"""`bedside admin user|client|keys|launch`: manage the authorization server's data.

Every command takes ``--data-dir`` (and ``--database`` when the server does not use the default
SQLite file; by default the database the server last ran with is used). Passwords and client
secrets are read from standard input or a hidden prompt, never from the command line.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import orjson
import typer
from rich.console import Console
from rich.table import Table

from bedside import settings as settings_mod
from bedside.errors import BedsideError

if TYPE_CHECKING:
    from bedside.store import Store

__all__ = [
    "ApiJson",
    "DataDir",
    "Database",
    "PasswordStdin",
    "client_add",
    "client_list",
    "client_remove",
    "clients_app",
    "console",
    "keys_app",
    "keys_list",
    "keys_retire",
    "keys_rotate",
    "launch",
    "out",
    "print_json",
    "user_add",
    "user_disable",
    "user_enable",
    "user_list",
    "user_reset_password",
    "users_app",
]

users_app = typer.Typer(no_args_is_help=True, help="Users who sign in to SMART apps.")
clients_app = typer.Typer(no_args_is_help=True, help="SMART apps and backend services.")
keys_app = typer.Typer(no_args_is_help=True, help="The server's token-signing keys.")
console = Console(stderr=True, soft_wrap=True)
out = Console(soft_wrap=True)

#: ``--json`` for operator commands whose JSON is what the HTTP API returns
ApiJson = Annotated[bool, typer.Option("--json", help="Print JSON (as the HTTP API returns it).")]


def print_json(value: Any) -> None:
    out.print_json(orjson.dumps(value).decode())


DataDir = Annotated[
    Path, typer.Option("--data-dir", help="The server's data folder (as given to serve).")
]
Database = Annotated[
    str | None,
    typer.Option("--database", help="sqlite:///path or postgresql://... (default: the server's)."),
]
PasswordStdin = Annotated[
    bool, typer.Option("--password-stdin", help="Read the password from standard input.")
]


def _fail(message: str) -> typer.Exit:
    console.print(f"[red]Error:[/red] {message}")
    return typer.Exit(code=1)


def _store(data_dir: Path, database: str | None) -> Store:
    from bedside.store import open_store

    cfg = settings_mod.resolve(data_dir, database)
    url = database or settings_mod.recorded_database(cfg.data_dir) or cfg.database_url
    try:
        settings_mod.prepare_data_dir(cfg.data_dir)
        return open_store(url)
    except BedsideError as exc:
        raise _fail(str(exc)) from None


def _secret(from_stdin: bool, what: str) -> str:
    if from_stdin:
        value = sys.stdin.readline().rstrip("\r\n")
        if not value:
            raise _fail(f"No {what} on standard input.")
        return value
    if not sys.stdin.isatty():
        raise _fail(f"Give the {what} on standard input with --{what.replace(' ', '-')}-stdin.")
    return str(typer.prompt(what.capitalize(), hide_input=True, confirmation_prompt=True))


# --- users -----------------------------------------------------------------------------------


@users_app.command("add")
def user_add(
    username: Annotated[str, typer.Argument(help="Sign-in name.")],
    role: Annotated[
        str,
        typer.Option(
            help="patient, nurse, doctor, admin, auditor, support, governance, security or"
            " clinical-safety."
        ),
    ],
    fhir_user: Annotated[
        str | None, typer.Option("--fhir-user", help="Their FHIR record, e.g. Patient/123.")
    ] = None,
    password_stdin: PasswordStdin = False,
    data_dir: DataDir = Path("var"),
    database: Database = None,
) -> None:
    """Add a user (the password is read from stdin or a prompt)."""
    from bedside.auth.users import Users

    password = _secret(password_stdin, "password")
    try:
        user = Users(_store(data_dir, database)).add(username, role, password, fhir_user)
    except BedsideError as exc:
        raise _fail(str(exc)) from None
    console.print(
        f"Added {user.role} [bold]{user.username}[/bold] ({user.fhir_user or 'no FHIR record'})."
    )
    out.print(user.id)


@users_app.command("list")
def user_list(data_dir: DataDir = Path("var"), database: Database = None) -> None:
    """List users."""
    from bedside.auth.users import Users

    table = Table("Username", "Role", "FHIR user", "Status", "Id")
    for u in Users(_store(data_dir, database)).list():
        table.add_row(
            u.username, u.role, u.fhir_user or "", "disabled" if u.disabled else "active", u.id
        )
    out.print(table)


def _set_disabled(username: str, disabled: bool, data_dir: Path, database: str | None) -> None:
    from bedside.auth.users import Users

    try:
        Users(_store(data_dir, database)).set_disabled(username, disabled)
    except BedsideError as exc:
        raise _fail(str(exc)) from None


@users_app.command("disable")
def user_disable(username: str, data_dir: DataDir = Path("var"), database: Database = None) -> None:
    """Disable a user: no sign-in, and every app they authorized loses access at once."""
    _set_disabled(username, True, data_dir, database)
    console.print(f"Disabled {username}; their apps' tokens are revoked.")


@users_app.command("enable")
def user_enable(username: str, data_dir: DataDir = Path("var"), database: Database = None) -> None:
    """Let a disabled user sign in again."""
    _set_disabled(username, False, data_dir, database)
    console.print(f"Enabled {username}.")


@users_app.command("reset-password")
def user_reset_password(
    username: str,
    password_stdin: PasswordStdin = False,
    data_dir: DataDir = Path("var"),
    database: Database = None,
) -> None:
    """Set a new password and lift any lockout."""
    from bedside.auth.users import Users

    password = _secret(password_stdin, "password")
    try:
        Users(_store(data_dir, database)).reset_password(username, password)
    except BedsideError as exc:
        raise _fail(str(exc)) from None
    console.print(f"New password set for {username}.")


# --- clients ---------------------------------------------------------------------------------


@clients_app.command("add")
def client_add(
    client_id: Annotated[str, typer.Argument(help="The app's client_id.")],
    redirect_uri: Annotated[
        list[str] | None, typer.Option("--redirect-uri", help="Exact redirect URI (repeatable).")
    ] = None,
    public: Annotated[
        bool, typer.Option("--public", help="A public app (PKCE, no secret).")
    ] = False,
    secret_stdin: Annotated[
        bool, typer.Option("--secret-stdin", help="Read a client secret (>= 32 chars) from stdin.")
    ] = False,
    jwks_file: Annotated[
        Path | None, typer.Option("--jwks-file", help="The client's public JWK Set (JSON).")
    ] = None,
    jwks_url: Annotated[
        str | None, typer.Option("--jwks-url", help="Where the client publishes its JWK Set.")
    ] = None,
    backend: Annotated[
        bool, typer.Option("--backend", help="A backend service (client_credentials).")
    ] = False,
    scope: Annotated[str | None, typer.Option(help="The most this client may be granted.")] = None,
    name: Annotated[str | None, typer.Option(help="Name shown on the consent page.")] = None,
    data_dir: DataDir = Path("var"),
    database: Database = None,
) -> None:
    """Register a SMART app or backend service."""
    from bedside.auth.clients import Clients

    if sum([public, secret_stdin, jwks_file is not None, jwks_url is not None]) != 1:
        raise _fail("Choose exactly one of --public, --secret-stdin, --jwks-file, --jwks-url.")
    secret = _secret(True, "secret") if secret_stdin else None
    jwks = None
    if jwks_file is not None:
        try:
            jwks = orjson.loads(jwks_file.read_bytes())
        except (OSError, orjson.JSONDecodeError) as exc:
            raise _fail(
                f"{jwks_file} is not a readable JSON file ({type(exc).__name__})."
            ) from None
    try:
        client = Clients(_store(data_dir, database)).add(
            client_id,
            redirect_uris=list(redirect_uri or []),
            secret=secret,
            jwks=jwks,
            jwks_url=jwks_url,
            backend=backend,
            scope=scope,
            name=name,
        )
    except BedsideError as exc:
        raise _fail(str(exc)) from None
    console.print(
        f"Registered [bold]{client.client_id}[/bold] ({client.auth_method}"
        f"{', backend service' if client.backend else ''}); scope: {client.scope}"
    )


@clients_app.command("list")
def client_list(data_dir: DataDir = Path("var"), database: Database = None) -> None:
    """List registered clients."""
    from bedside.auth.clients import Clients

    table = Table("Client id", "Authentication", "Kind", "Redirect URIs", "Scope")
    for c in Clients(_store(data_dir, database)).list():
        kind = "backend" if c.backend else "app"
        table.add_row(c.client_id, c.auth_method, kind, "\n".join(c.redirect_uris), c.scope)
    out.print(table)


@clients_app.command("remove")
def client_remove(
    client_id: str, data_dir: DataDir = Path("var"), database: Database = None
) -> None:
    """Remove a client; every grant it holds is revoked."""
    from bedside.auth.clients import Clients

    try:
        Clients(_store(data_dir, database)).remove(client_id)
    except BedsideError as exc:
        raise _fail(str(exc)) from None
    console.print(f"Removed {client_id}; its tokens are revoked.")


# --- keys ------------------------------------------------------------------------------------


@keys_app.command("rotate")
def keys_rotate(data_dir: DataDir = Path("var")) -> None:
    """Add a new signing key. A running server switches to it within seconds; tokens signed by
    older keys stay valid until those keys are retired."""
    from bedside.auth.keys import rotate

    cfg = settings_mod.resolve(data_dir)
    keys = rotate(cfg.data_dir)
    console.print(f"New signing key {keys.signing.kid}.")
    out.print(keys.signing.kid)


@keys_app.command("list")
def keys_list(data_dir: DataDir = Path("var")) -> None:
    """List the signing keys (newest signs)."""
    from bedside.auth.keys import load_or_create

    keys = load_or_create(settings_mod.resolve(data_dir).data_dir)
    for key in keys.all.keys:
        marker = " (signing)" if key.kid == keys.signing.kid else ""
        out.print(f"{key.kid}{marker}")


@keys_app.command("retire")
def keys_retire(kid: str, data_dir: DataDir = Path("var")) -> None:
    """Remove an old key once every token it signed has expired (at most one hour)."""
    from bedside.auth.keys import retire

    try:
        retire(settings_mod.resolve(data_dir).data_dir, kid)
    except BedsideError as exc:
        raise _fail(str(exc)) from None
    console.print(f"Retired {kid}.")


def launch(
    patient: Annotated[str, typer.Option(help="The Patient id the app opens with.")],
    encounter: Annotated[str | None, typer.Option(help="An Encounter id.")] = None,
    user: Annotated[
        str | None, typer.Option(help="Only this username may complete the launch.")
    ] = None,
    data_dir: DataDir = Path("var"),
    database: Database = None,
) -> None:
    """Create an EHR launch context; print the value for the app's `launch` parameter."""
    from bedside.auth.grants import Grants
    from bedside.auth.users import Users

    store = _store(data_dir, database)
    user_id = None
    if user is not None:
        found = Users(store).by_username(user)
        if found is None:
            raise _fail(f"There is no user named '{user}'.")
        user_id = found.id
    context: dict[str, object] = {"patient": patient}
    if encounter:
        context["encounter"] = encounter
    out.print(Grants(store).create_launch(context, user_id))
