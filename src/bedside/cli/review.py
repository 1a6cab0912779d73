"""`bedside review list|show|resolve`: the sync review queue from the command line.

The same operations as ``GET /review``, ``GET /review/{id}`` and ``POST /review/{id}/resolve``
(docs/sync-server.md), run straight against the server's database as the operator, who sees
every queue. A resolution goes through the API's own write path (a Repository bound to the
operator, with the server's policy file), so it is validated, gets its Provenance and is audited
with the operator as the agent, in one transaction. ``--json`` prints what the API returns.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import orjson
import typer
from rich.table import Table

from bedside import settings as settings_mod
from bedside.cli.admin import ApiJson as Json
from bedside.cli.admin import Database, DataDir, _fail, _store, console, out, print_json
from bedside.consent.evaluate import shares_for
from bedside.errors import BedsideError

if TYPE_CHECKING:
    from bedside.audit.chain import AuditLog
    from bedside.store import Store

__all__ = ["ItemId", "review_app", "review_list", "review_resolve", "review_show"]

review_app = typer.Typer(
    no_args_is_help=True, help="Device changes waiting for review after sync: list, show, resolve."
)

ItemId = Annotated[str, typer.Argument(help="The review item id (see `bedside review list`).")]


def _server(data_dir: Path, database: str | None) -> str:
    cfg = settings_mod.resolve(data_dir, database)
    return settings_mod.recorded_fhir_base(cfg.data_dir) or cfg.fhir_base


def _audit(store: Store, data_dir: Path, database: str | None) -> AuditLog:
    from bedside.audit.chain import AuditLog

    return AuditLog(store, server=_server(data_dir, database))


def _operator() -> Any:
    from bedside.auth.caller import Caller
    from bedside.auth.scopes import ScopeSet

    return Caller("operator", ScopeSet.parse("system/*.cruds"))


def _note(audit: AuditLog, subtype: str, description: str, **what: Any) -> None:
    from bedside.policy.decide import Policy
    from bedside.rest.trail import Trail

    trail = Trail(_operator(), Policy(consents=shares_for).clock)
    trail.note(subtype, description=description, **what)
    audit.submit(trail.entries)


@review_app.command("list")
def review_list(
    role: Annotated[str | None, typer.Option("--role", help="Only this role's queue.")] = None,
    state: Annotated[str, typer.Option("--state", help="open, resolved or all.")] = "open",
    count: Annotated[
        int | None,
        typer.Option("--count", min=1, help="One page of this many items (default: every item)."),
    ] = None,
    cursor: Annotated[
        str | None, typer.Option("--cursor", help="Continue after a page (its next cursor).")
    ] = None,
    as_json: Json = False,
    data_dir: DataDir = Path("var"),
    database: Database = None,
) -> None:
    """List review items, oldest first: every item, or one page with --count."""
    from bedside.sync import review

    states = {"open": review.OPEN, "resolved": review.RESOLVED, "all": None}
    if state not in states:
        raise _fail("--state must be open, resolved or all.")
    store = _store(data_dir, database)
    audit = _audit(store, data_dir, database)
    items: list[review.ReviewItem] = []
    after = cursor
    try:
        with store.records() as db:
            while True:  # page by page, each from where the last ended
                size = review.PAGE if count is None else count - len(items)
                page, after = review.listing_page(
                    db, role=role, state=states[state], cursor=after, count=size
                )
                items.extend(page)
                if after is None or (count is not None and len(items) >= count):
                    break
        patients = {i.patient for i in items if i.patient}
        _note(audit, "review-list", f"review queue listed: {len(items)} items", patients=patients)
    except BedsideError as exc:
        raise _fail(str(exc)) from None
    finally:
        audit.close()
        store.close()
    if as_json:
        listed = [i.detail() for i in items]
        print_json({"role": role, "state": state, "items": listed, "next": after})
        return
    table = Table("Item", "State", "Role", "Record", "Why", "Fields", "Created (UTC)")
    for i in items:
        s = i.summary()
        table.add_row(
            i.id, i.state, i.route_role, s["resource"], i.code, ", ".join(i.fields), s["created"]
        )
    out.print(table)
    if after is not None:
        out.print(f"More items: run again with --cursor {after}")


@review_app.command("show")
def review_show(
    item_id: ItemId,
    as_json: Json = False,
    data_dir: DataDir = Path("var"),
    database: Database = None,
) -> None:
    """Show one item: the device's value, the server's and the base, and what differs."""
    from bedside.sync import review

    store = _store(data_dir, database)
    audit = _audit(store, data_dir, database)
    try:
        with store.records() as db:
            item = review.get(db, item_id)
        if item is None:
            raise _fail("There is no review item with this id.")
        _note(
            audit,
            "review-read",
            f"review item {item.id} read",
            rtype=item.resource_type,
            patients=[item.patient] if item.patient else [],
            entities=[f"{item.resource_type}/{item.resource_id}"],
        )
    finally:
        audit.close()
        store.close()
    detail = item.detail()
    if as_json:
        print_json(detail)
        return
    for key in ("id", "state", "code", "reason", "resource", "role", "device", "device_time"):
        out.print(f"{key}: {detail[key]}")
    out.print(f"server version: {detail['server_version']}, base: {detail['base_version']}")
    for field in item.fields:
        out.print(f"[bold]{field}[/bold]")
        for side in ("base_value", "server_value", "device_value"):
            value = (detail[side] or {}).get(field)
            out.print(f"  {side.removesuffix('_value')}: {orjson.dumps(value).decode()}")


@review_app.command("resolve")
def review_resolve(
    item_id: ItemId,
    keep: Annotated[str, typer.Option("--keep", help="device, server or merged.")],
    resource: Annotated[
        Path | None, typer.Option("--resource", help="The edited merge (JSON) for --keep merged.")
    ] = None,
    version: Annotated[
        str | None, typer.Option("--version", help="The server version you resolved against.")
    ] = None,
    as_json: Json = False,
    data_dir: DataDir = Path("var"),
    database: Database = None,
) -> None:
    """Resolve an item, audited: keep device or merged writes a new version on the one you saw
    (--version; 409 if the record moved on); keep server writes nothing."""
    from bedside.policy.decide import Policy
    from bedside.policy.rules import PolicyRules
    from bedside.rest.repository import Repository
    from bedside.sync.resolution import parse_resolution, resolve

    body: dict[str, Any] = {"keep": keep}
    if version is not None:
        body["version"] = version
    if resource is not None:
        try:
            body["resource"] = orjson.loads(resource.read_bytes())
        except (OSError, orjson.JSONDecodeError):
            raise _fail(f"{resource} is not a readable JSON file.") from None
    cfg = settings_mod.resolve(data_dir, database)
    store = _store(data_dir, database)
    audit = _audit(store, data_dir, database)
    policy = Policy(PolicyRules.load(cfg.data_dir / "policy.toml"), consents=shares_for)
    repo = Repository(store, _operator(), _server(data_dir, database), policy=policy, auditor=audit)
    try:
        how = parse_resolution(body)
        with store.write() as session:
            item = resolve(repo, session, item_id, how, now=time.time())
            repo.chain(session)
    except BedsideError as exc:
        raise _fail(str(exc)) from None
    finally:
        audit.close()
        store.close()
    if as_json:
        print_json(item.detail())
        return
    done = item.summary()["resolution"]
    if keep == "server":
        kept = f" version {done['version']}" if done["version"] else ""
        console.print(
            f"Review item {item.id} resolved: kept the server's{kept}, nothing written; "
            "the device's change is rejected."
        )
        return
    console.print(
        f"Review item {item.id} resolved: kept {keep}, wrote version {done['version']}; "
        "the device's change is confirmed."
    )
