"""The `bedside` command: the one place objects are built from configuration."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from bedside import settings as settings_mod
from bedside.cli import admin as cli_admin
from bedside.cli import assign as cli_assign
from bedside.cli import audit as cli_audit
from bedside.cli import device as cli_device
from bedside.cli import device_admin as cli_device_admin
from bedside.cli import device_app as _registers_device_app  # noqa: F401  (adds `device app`)
from bedside.cli import device_sync as _registers_device_sync  # noqa: F401  (adds `device sync`)
from bedside.cli import operator_tokens as cli_operator_tokens
from bedside.cli import review as cli_review
from bedside.cli import support as cli_support
from bedside.cli import upstream as upstream_cli  # adds `upstream`
from bedside.errors import BedsideError

if TYPE_CHECKING:
    from bedside.rest import Repository
    from bedside.store import Store

__all__ = [
    "DataDir",
    "Database",
    "admin",
    "admin_reindex",
    "app",
    "console",
    "import_",
    "main",
    "serve",
]

app = typer.Typer(no_args_is_help=True, add_completion=False, help="Bedside clinical data server.")
admin = typer.Typer(no_args_is_help=True, help="Administer a Bedside server's data dir.")
app.add_typer(admin, name="admin")
admin.add_typer(cli_admin.users_app, name="user")
admin.add_typer(cli_admin.clients_app, name="client")
admin.add_typer(cli_admin.keys_app, name="keys")
admin.command("launch")(cli_admin.launch)
admin.command("token")(cli_operator_tokens.admin_token)
admin.command("metrics-token")(cli_operator_tokens.admin_metrics_token)
admin.add_typer(cli_assign.assign_app, name="assign")
admin.add_typer(cli_device_admin.device_app, name="device")
app.add_typer(cli_audit.audit_app, name="audit")
app.add_typer(cli_device.device_app, name="device")
app.add_typer(cli_review.review_app, name="review")
app.add_typer(upstream_cli.upstream_app, name="upstream")
app.add_typer(cli_support.support_app, name="support")
console = Console(stderr=True, soft_wrap=True)

DataDir = Annotated[
    Path, typer.Option("--data-dir", help="Folder for the SQLite database and the server's keys.")
]
Database = Annotated[
    str | None,
    typer.Option(
        "--database", help="sqlite:///path or postgresql://... (default: SQLite in --data-dir)."
    ),
]


def _fail(message: str) -> typer.Exit:
    console.print(f"[red]Error:[/red] {message}")
    return typer.Exit(code=1)


@app.command()
def serve(
    data_dir: DataDir = Path("var"),
    database: Database = None,
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = settings_mod.DEFAULT_HOST,
    port: Annotated[int, typer.Option(help="TCP port.")] = settings_mod.DEFAULT_PORT,
    base_url: Annotated[
        str | None, typer.Option(help="Public URL when behind a proxy (default http://HOST:PORT).")
    ] = None,
    demo: Annotated[bool, typer.Option(help="Load demo patients into an empty database.")] = False,
    demo_patients: Annotated[int, typer.Option(help="How many demo patients to generate.")] = 25,
    token_ttl: Annotated[
        str, typer.Option(help="Access-token lifetime for SMART apps, e.g. 15m (at most 1h).")
    ] = "15m",  # noqa: S107 - a lifetime, not a password
    refresh_grace: Annotated[
        str,
        typer.Option(
            help="How long after a refresh its old token may be retried, after a lost answer,"
            " e.g. 60s (0 turns it off, at most 5m)."
        ),
    ] = "60s",
    workers: Annotated[
        int, typer.Option(help="Server processes (one per CPU core is a good start).")
    ] = 1,
    log_level: Annotated[
        str, typer.Option(help="debug, info (one line per request), warning or error.")
    ] = "info",
    log_json: Annotated[
        bool, typer.Option(help="Log one JSON object per line instead of logfmt.")
    ] = False,
    policy: Annotated[
        Path | None,
        typer.Option(help="Access policy file (default: DATA_DIR/policy.toml, else built in)."),
    ] = None,
    upstream: Annotated[
        Path | None,
        typer.Option(help="Upstream EHR sources (default: DATA_DIR/upstream.toml, if any)."),
    ] = None,
    max_body_fhir: Annotated[
        str, typer.Option(help="Largest request body on /fhir and /review, e.g. 16MiB.")
    ] = "16MiB",
    max_body_sync: Annotated[
        str, typer.Option(help="Largest sync push body (/sync/push), e.g. 32MiB.")
    ] = "32MiB",
    max_body_other: Annotated[
        str, typer.Option(help="Largest body anywhere else (OAuth forms, device API), e.g. 64KiB.")
    ] = "64KiB",
) -> None:
    """Serve the FHIR API, creating and migrating the database and keys as needed."""
    import uvicorn

    from bedside.auth.rotation import MAX_GRACE
    from bedside.auth.server import MAX_ACCESS_TTL
    from bedside.logs import configure_logging
    from bedside.web import asgi

    if log_level.lower() not in ("debug", "info", "warning", "error"):
        raise _fail("--log-level must be debug, info, warning or error.")
    configure_logging(log_level, json=log_json)  # every log line is PHI-scrubbed (docs/logging.md)
    ttl = cli_operator_tokens.parse_ttl(token_ttl)
    if ttl is None or not 0 < ttl <= MAX_ACCESS_TTL:
        raise _fail("--token-ttl must be a duration such as 15m, at most 1h.")
    grace = cli_operator_tokens.parse_ttl(refresh_grace)
    if grace is None or not 0 <= grace <= MAX_GRACE:
        raise _fail("--refresh-grace must be a duration such as 60s, at most 5m.")
    if not 1 <= workers <= 64:
        raise _fail("--workers must be between 1 and 64.")
    limits = _body_limits(max_body_fhir, max_body_sync, max_body_other)
    cfg = settings_mod.resolve(data_dir, database, host, port, base_url, limits)
    try:
        settings_mod.prepare_data_dir(cfg.data_dir)
        if policy is not None and not policy.is_file():
            raise BedsideError(f"The policy file {policy} does not exist.")
        if upstream is not None and not upstream.is_file():
            raise BedsideError(f"The upstream file {upstream} does not exist.")
        if workers > 1:
            from bedside.upstream import load as load_upstream

            sources = load_upstream(upstream or cfg.data_dir / "upstream.toml", cfg.data_dir)
            if sources.listens:
                raise BedsideError("An mllp_port in the upstream file needs --workers 1.")
        app, store = asgi.build(
            cfg.data_dir,
            cfg.database_url,
            cfg.fhir_base,
            cfg.root,
            ttl,
            policy,
            limits,
            refresh_grace=grace,
            upstream_file=upstream,
            listen_mllp=workers == 1,
        )
    except BedsideError as exc:
        raise _fail(str(exc)) from None
    settings_mod.record_server(cfg)
    if demo:
        _load_demo(store, cfg.fhir_base, demo_patients)
    console.print(f"[bold green]Bedside[/bold green] FHIR R4 API at [bold]{cfg.fhir_base}[/bold]")
    console.print(f"  CapabilityStatement: {cfg.fhir_base}/metadata")
    console.print(f"  SMART discovery:     {cfg.fhir_base}/.well-known/smart-configuration")
    console.print(
        "  Get a token:  .venv/bin/bedside admin token --scope 'system/*.cruds'"
        f" --data-dir {data_dir}"
    )
    console.print(f'  Then:         curl -H "Authorization: Bearer $TOKEN" {cfg.fhir_base}/Patient')
    if workers == 1:
        # log_config=None keeps uvicorn off our logging setup; its access log prints full URLs
        uvicorn.run(
            app, host=host, port=port, log_level="warning", log_config=None, access_log=False
        )
        return
    store.close()  # each worker process opens its own
    os.environ[asgi.ENV] = asgi.settings_for_workers(
        cfg.data_dir,
        cfg.database_url,
        cfg.fhir_base,
        cfg.root,
        ttl,
        log_level=log_level,
        log_json=log_json,
        policy_file=policy,
        body_limits=limits,
        refresh_grace=grace,
    )
    from bedside.metrics.runs import run_directory

    with run_directory():  # the workers' shared metrics, removed when the server stops
        uvicorn.run(
            "bedside.web.asgi:worker_app",
            factory=True,
            workers=workers,
            host=host,
            port=port,
            log_level="warning",
            log_config=None,
            access_log=False,
        )


def _body_limits(fhir: str, sync: str, other: str) -> settings_mod.BodyLimits:
    sizes = []
    for name, text in (("fhir", fhir), ("sync", sync), ("other", other)):
        size = settings_mod.parse_size(text)
        if size is None or size < settings_mod.KIB:
            raise _fail(f"--max-body-{name} must be a size such as 64KiB or 16MiB, at least 1KiB.")
        sizes.append(size)
    return settings_mod.BodyLimits(*sizes)


def _system_repository(store: Store, name: str, base: str) -> Repository:
    """A Repository for a loader that writes as the system (demo data, an import), under the
    default rules and not audited (the operator runs it on their own data dir)."""
    from bedside.audit.entry import NullAuditor
    from bedside.auth.caller import Caller
    from bedside.auth.scopes import ScopeSet
    from bedside.consent.evaluate import shares_for
    from bedside.policy.decide import Policy
    from bedside.rest import Repository

    return Repository(
        store,
        Caller(name, ScopeSet.parse("system/*.cruds")),
        base,
        policy=Policy(consents=shares_for),
        auditor=NullAuditor(),
    )


def _load_demo(store: Store, fhir_base: str, count: int) -> None:
    from bedside.demo.generator import generate_patients
    from bedside.rest import FhirRequest

    repo = _system_repository(store, "demo-loader", fhir_base)
    with store.read() as session:
        if session.max_seq() > 0:
            return
    with _progress() as progress:
        task = progress.add_task("Loading demo patients", total=count)
        for bundle in generate_patients(count, seed=2026):
            repo.handle(FhirRequest("POST", "", body=bundle, prefer_return="minimal"))
            progress.advance(task)
    store.analyze()


def _progress() -> Progress:
    return Progress(
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=console,
    )


@app.command("import")
def import_(
    paths: Annotated[list[Path], typer.Argument(help="Files or folders of Bundles and NDJSON.")],
    data_dir: DataDir = Path("var"),
    database: Database = None,
) -> None:
    """Load Bundles and NDJSON files through the API's transaction path."""
    from bedside.importer import import_paths
    from bedside.store import open_store

    missing = [p for p in paths if not p.exists()]
    if missing:
        raise _fail(f"{missing[0]} does not exist.")
    cfg = settings_mod.resolve(data_dir, database)
    try:
        if database is None:
            settings_mod.prepare_data_dir(cfg.data_dir)
        store = open_store(cfg.database_url)
    except BedsideError as exc:
        raise _fail(str(exc)) from None
    base = settings_mod.recorded_fhir_base(cfg.data_dir) or cfg.fhir_base
    repo = _system_repository(store, "importer", base)
    with Progress(
        TextColumn("Importing"),
        BarColumn(),
        TextColumn("{task.percentage:>3.0f}%"),
        TimeRemainingColumn(),
        console=console,
    ) as progress:
        task = progress.add_task("import", total=None)
        report = import_paths(
            repo,
            paths,
            on_total=lambda n: progress.update(task, total=n),
            on_progress=lambda n: progress.advance(task, n),
        )
    store.analyze()
    store.close()
    table = Table(title="Imported resources")
    table.add_column("Resource type")
    table.add_column("Count", justify="right")
    for rtype, n in sorted(report.by_type.items()):
        table.add_row(rtype, str(n))
    table.add_row("[bold]Total[/bold]", f"[bold]{report.total}[/bold]")
    Console().print(table)
    Console().print(
        f"{report.files} file(s), {report.total} resources in {report.seconds:.1f} s "
        f"({report.rate:,.0f} resources/s)"
    )
    for err in report.errors:
        console.print(f"[red]Failed:[/red] {err}")
    if report.errors:
        raise typer.Exit(code=1)


def main() -> None:
    app()


@admin.command("reindex")
def admin_reindex(data_dir: DataDir = Path("var"), database: Database = None) -> None:
    """Rebuild the search index of every stored resource (after an upgrade changed parameters).

    Safe while the server runs: each batch takes the same locks as a write (docs/api.md).
    """
    from bedside.store import open_store
    from bedside.store.reindex import reindex

    cfg = settings_mod.resolve(data_dir, database)
    try:
        store = open_store(cfg.database_url)
    except BedsideError as exc:
        raise _fail(str(exc)) from None
    try:
        with _progress() as progress:
            task = progress.add_task("Reindexing", total=None)
            done = reindex(store, progress=lambda n: progress.update(task, completed=n))
    finally:
        store.close()
    console.print(f"Reindexed {done} resources.")
