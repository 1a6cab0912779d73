"""`bedside upstream run|status|replay --source NAME`: the upstream EHR ingest by hand.

``run`` pulls a FHIR source (once, or every ``interval`` with ``--every``) or reads an HL7 v2
source's message files; the MLLP listener itself runs inside ``bedside serve``. ``status``
prints the counts, high-water marks and open dead letters (ids and reasons, never message
content). ``replay`` retries dead letters. Writes go through the same audited, policy-checked
transaction path as the server's, against the database the server recorded.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.json import JSON
from rich.progress import Progress, SpinnerColumn, TextColumn

from bedside import settings as settings_mod
from bedside.consent.evaluate import shares_for
from bedside.errors import BedsideError

if TYPE_CHECKING:
    from bedside.audit.chain import AuditLog
    from bedside.store import Store
    from bedside.upstream import Upstream

__all__ = [
    "DataDir",
    "Database",
    "SourceName",
    "UpstreamFile",
    "console",
    "replay_command",
    "run_command",
    "status_command",
    "upstream_app",
]

upstream_app = typer.Typer(
    no_args_is_help=True, help="Ingest from upstream EHRs (FHIR servers, HL7 v2 feeds)."
)
console = Console(stderr=True, soft_wrap=True)

DataDir = Annotated[
    Path, typer.Option("--data-dir", help="The server's data folder (as given to serve).")
]
Database = Annotated[
    str | None,
    typer.Option("--database", help="sqlite:///path or postgresql://... (default: the server's)."),
]
SourceName = Annotated[str, typer.Option("--source", help="The [source.NAME] in upstream.toml.")]
UpstreamFile = Annotated[
    Path | None,
    typer.Option("--upstream", help="Upstream sources file (default: DATA_DIR/upstream.toml)."),
]


def _fail(message: str) -> typer.Exit:
    console.print(f"[red]Error:[/red] {message}")
    return typer.Exit(code=1)


def _open(
    data_dir: Path, database: str | None, upstream: Path | None
) -> tuple[Upstream, Store, AuditLog]:
    from bedside.audit.chain import AuditLog
    from bedside.policy.decide import Policy
    from bedside.policy.rules import PolicyRules
    from bedside.store import open_store
    from bedside.upstream import Upstream, load

    cfg = settings_mod.resolve(data_dir, database)
    url = database or settings_mod.recorded_database(cfg.data_dir) or cfg.database_url
    base = settings_mod.recorded_fhir_base(cfg.data_dir) or cfg.fhir_base
    path = upstream or cfg.data_dir / "upstream.toml"
    if not path.is_file():
        raise _fail(f"There is no upstream file at {path}.")
    try:
        config = load(path, cfg.data_dir)
        store = open_store(url)
    except BedsideError as exc:
        raise _fail(str(exc)) from None
    audit = AuditLog(store, server=base)
    policy = Policy(PolicyRules.load(cfg.data_dir / "policy.toml"), consents=shares_for)
    up = Upstream(store, config, base, policy=policy, auditor=audit)
    try:
        up.check()
    except BedsideError as exc:
        audit.close()
        store.close()
        raise _fail(str(exc)) from None
    return up, store, audit


@upstream_app.command("run")
def run_command(
    source: SourceName,
    data_dir: DataDir = Path("var"),
    database: Database = None,
    upstream: UpstreamFile = None,
    every: Annotated[
        bool, typer.Option(help="Keep pulling at the source's interval until stopped.")
    ] = False,
) -> None:
    """Pull a FHIR source, or read an HL7 v2 source's message files, now."""
    from bedside.upstream.config import FhirSource

    up, store, audit = _open(data_dir, database, upstream)
    try:
        src = up.config.source(source)
        if every and not (isinstance(src, FhirSource) and src.interval):
            raise _fail(f"--every needs an interval in [source.{source}].")
        while True:
            failed = _run_once(up, source)
            if not every:
                break
            assert isinstance(src, FhirSource) and src.interval
            time.sleep(src.interval)
    except BedsideError as exc:
        raise _fail(str(exc)) from None
    finally:
        audit.close()
        store.close()
    if failed:
        raise typer.Exit(code=1)


def _run_once(up: Upstream, name: str) -> bool:
    """One pull or one pass over the files; True when something failed."""
    from bedside.upstream.config import FhirSource

    src = up.config.source(name)
    with Progress(SpinnerColumn(), TextColumn("{task.description}"), console=console) as bar:
        task = bar.add_task(f"Source {name}", total=None)
        if isinstance(src, FhirSource):
            counted: dict[str, int] = {}

            def progress(rtype: str, n: int) -> None:
                counted[rtype] = counted.get(rtype, 0) + n
                bar.update(task, description=f"Source {name}: {rtype} {counted[rtype]} read")

            report = up.pull(name, progress)
        else:
            seen = [0]

            def message(_: object) -> None:
                seen[0] += 1
                bar.update(task, description=f"Source {name}: {seen[0]} messages")

            files = up.read_files(name, message)
    if isinstance(src, FhirSource):
        for rtype, mode in report.mode.items():
            typer.echo(f"{rtype}: {report.by_type.get(rtype, 0)} written (by {mode})")
        typer.echo(
            f"{report.written} written, {report.deleted} deleted, {report.unchanged} unchanged"
            f" in {report.seconds:.1f} s"
        )
        for err in report.errors:
            console.print(f"[red]Failed:[/red] {err}")
        return bool(report.errors)
    typer.echo(
        f"{files.messages} messages: {files.accepted} accepted,"
        f" {files.refused} kept as dead letters"
    )
    return files.refused > 0


@upstream_app.command("status")
def status_command(
    source: SourceName,
    data_dir: DataDir = Path("var"),
    database: Database = None,
    upstream: UpstreamFile = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Counts, high-water marks and open dead letters of a source."""
    import orjson

    up, store, audit = _open(data_dir, database, upstream)
    try:
        status = up.status(source)
    except BedsideError as exc:
        raise _fail(str(exc)) from None
    finally:
        audit.close()
        store.close()
    if as_json:
        typer.echo(orjson.dumps(status, option=orjson.OPT_INDENT_2).decode())
        return
    Console().print(JSON.from_data(status))


@upstream_app.command("replay")
def replay_command(
    source: SourceName,
    data_dir: DataDir = Path("var"),
    database: Database = None,
    upstream: UpstreamFile = None,
    letter: Annotated[
        str | None, typer.Option(help="One dead letter's id (default: every open one).")
    ] = None,
) -> None:
    """Retry dead letters (after fixing the concept map, the configuration or the sender)."""
    up, store, audit = _open(data_dir, database, upstream)
    try:
        acks = up.retry(source, letter)
    except BedsideError as exc:
        raise _fail(str(exc)) from None
    finally:
        audit.close()
        store.close()
    ok = sum(1 for a in acks if a.code == "AA")
    typer.echo(f"{len(acks)} dead letters retried: {ok} went through, {len(acks) - ok} still open.")
    for a in acks:
        if a.code != "AA":
            console.print(f"[red]Still failing:[/red] {a.letter}: {a.reason}")
    if ok < len(acks):
        raise typer.Exit(code=1)
