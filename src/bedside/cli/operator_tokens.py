"""`bedside admin token` and `bedside admin metrics-token`: the operator's bearer tokens.

An operator access token is signed by the server's own keys (no grant behind it); the metrics
scrape token is kept only as a digest in the data dir. Both are printed once, on standard
output, as the last line.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from bedside import settings as settings_mod
from bedside.errors import BedsideError

__all__ = ["admin_metrics_token", "admin_token", "console", "parse_ttl"]

console = Console(stderr=True, soft_wrap=True)

#: ``--data-dir`` as ``bedside serve`` takes it
_DataDir = Annotated[
    Path, typer.Option("--data-dir", help="Folder for the SQLite database and the server's keys.")
]


def _fail(message: str) -> typer.Exit:
    console.print(f"[red]Error:[/red] {message}")
    return typer.Exit(code=1)


def admin_token(
    scope: Annotated[str, typer.Option(help='SMART scopes, e.g. "system/*.cruds".')],
    ttl: Annotated[
        str, typer.Option(help="Lifetime such as 15m, 1h or 3600 (at most 24h).")
    ] = "1h",
    data_dir: _DataDir = Path("var"),
    audience: Annotated[
        str | None, typer.Option(help="FHIR base URL the token is for (default: the server's).")
    ] = None,
) -> None:
    """Print an operator access token signed by this server (the last line of output)."""
    from bedside.auth import tokens
    from bedside.auth.keys import load_or_create

    seconds = parse_ttl(ttl)
    if seconds is None or not 0 < seconds <= tokens.MAX_OPERATOR_TTL:
        raise _fail("--ttl must be a duration such as 15m, 1h or 3600, at most 24h.")
    cfg = settings_mod.resolve(data_dir)
    settings_mod.prepare_data_dir(cfg.data_dir)
    aud = audience or settings_mod.recorded_fhir_base(cfg.data_dir) or cfg.fhir_base
    try:
        token = tokens.issue(
            load_or_create(cfg.data_dir), subject="operator", audience=aud, scope=scope, ttl=seconds
        )
    except BedsideError as exc:
        raise _fail(str(exc)) from None
    console.print(f"Token for {aud}, valid {seconds} s, scope: {scope}")
    sys.stdout.write(token + "\n")


def admin_metrics_token(data_dir: _DataDir = Path("var")) -> None:
    """Make a new scrape token for GET /metrics and print it once (the old one stops working).

    Only its digest is kept in the data dir; give the token to Prometheus in a
    credentials_file (docs/operations.md).
    """
    from bedside.metrics.access import ScrapeToken

    cfg = settings_mod.resolve(data_dir)
    settings_mod.prepare_data_dir(cfg.data_dir)
    token = ScrapeToken(cfg.data_dir).create()
    console.print(
        "Scrape token for /metrics (shown once; keep it in Prometheus' credentials_file):"
    )
    sys.stdout.write(token + "\n")


def parse_ttl(text: str) -> int | None:
    """Seconds from ``3600``, ``90s``, ``15m`` or ``1h``; None when it is not a duration."""
    units = {"s": 1, "m": 60, "h": 3600}
    text = text.strip().lower()
    try:
        if text[-1:] in units:
            return int(text[:-1]) * units[text[-1]]
        return int(text)
    except ValueError:
        return None
