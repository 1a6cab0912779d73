"""Resolving a review item: a person keeps the device's value, the server's, or an edited merge.

``POST /review/{id}/resolve`` and ``bedside review resolve`` both call :func:`resolve` inside
a write transaction, through the Repository bound to the reviewer: the outcome is written as a
new version by the API's own write path (validation, policy, Provenance, audit), the resolution
is audited, and the item is marked resolved, all in that one transaction.

* ``device`` or ``merged``: the device's value (or the reviewer's edit) becomes the new
  version, written on top of the version the reviewer resolved against; the device's event is
  then ``confirmed`` with that version.
* ``server``: **nothing is written**. The item is closed recording the server version that was
  kept, and the device's event is ``rejected`` (its change was not kept). The content captured
  when the item was made is never written back: the record may have moved on since, and
  writing that snapshot would silently revert the later versions (issue 14). The device gets
  the record as the server holds it beside the outcome, at its next pull
  (:mod:`bedside.sync.kept`). For a create that was held back (``implausible-time``) there is
  no server version to keep.

Marking the item resolved gives it the next number of its device's outcome sequence, under a
per-device lock held until commit (:func:`bedside.sync.review.mark_resolved`): the device's
next pull carries the outcome (docs/sync-pull.md "Review outcomes").

A resolution is exact: it is made against the version the reviewer looked at (``"version"``,
default the server version when the item was made), checked under the record's lock in the
resolving transaction. If the record changed since, whatever is kept, nothing is written and
the answer is 409 naming the current version; the reviewer looks at that version and resolves
again, stating it.

**From the governance console** (ADR 0014) the reviewer's own role reaches no patient, so the
console passes ``scope``: given the item, it checks the reviewer may settle it and returns the
resolution-scoped view the write runs under (the item's record type, the item's patient,
nothing else); the item's role check (:func:`bedside.sync.review_access.may_see`) is then
replaced by that one.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

from bedside.errors import Conflict, Forbidden, InvalidRequest, NotFound
from bedside.policy.model import AccessView
from bedside.rest.repository import Repository
from bedside.store.base import Session
from bedside.sync import review, review_access
from bedside.sync.review import ReviewItem

__all__ = ["KEEP", "Resolution", "parse_resolution", "resolve"]

KEEP: Final = ("device", "server", "merged")


@dataclass(frozen=True, slots=True)
class Resolution:
    keep: str
    resource: dict[str, Any] | None = None  # the edited merge (keep == "merged")
    version: int | None = None  # the server version the reviewer resolved against


def parse_resolution(body: Any) -> Resolution:
    """The request body ``{"keep": ..., "resource": {...}, "version": "N"}``; else 400."""
    if not isinstance(body, dict):
        raise InvalidRequest('Send {"keep": "device" | "server" | "merged"}.')
    keep = body.get("keep")
    if keep not in KEEP:
        raise InvalidRequest("keep must be device, server or merged.")
    resource = body.get("resource")
    if keep == "merged" and not isinstance(resource, dict):
        raise InvalidRequest("A merged resolution needs the edited resource in resource.")
    if keep != "merged" and resource is not None:
        raise InvalidRequest("Only a merged resolution carries a resource.")
    version = body.get("version")
    if version is not None:
        text = str(version) if isinstance(version, str | int) else ""
        if not (text.isascii() and text.isdigit() and len(text) <= 18):
            raise InvalidRequest("version must be the server version you resolved against.")
        version = int(version)
    return Resolution(keep, resource if keep == "merged" else None, version)


def resolve(
    repo: Repository,
    session: Session,
    item_id: str,
    how: Resolution,
    *,
    now: float,
    scope: Callable[[ReviewItem], AccessView] | None = None,
) -> ReviewItem:
    """Settle one open item as ``how`` says; the item as resolved. Raises FhirError.
    ``scope``: the console's resolution-scoped authority (module docstring)."""
    db = session.records()
    session.lock(f"review:{item_id}")
    item = review.get(db, item_id)
    caller = repo.caller
    if item is None:
        raise NotFound("There is no review item with this id.")
    act = repo.bind(session, scope(item) if scope is not None else None)
    seen = "all" if scope is not None else ""
    if scope is None:
        seen = review_access.may_see(caller, repo.access.view, item, repo.policy.rules.review_roles)
    if seen != "all":
        if seen == "summary":
            raise Forbidden(f"Only the {item.route_role} queue can resolve this item.")
        raise NotFound("There is no review item with this id.")
    author_only = (
        scope is None and caller.role != item.route_role and not review_access.is_operator(caller)
    )
    if author_only and how.keep != "server":
        raise Forbidden(
            f"Only the {item.route_role} queue can settle this item; you may withdraw your own "
            "change."
        )
    if item.state != review.OPEN:
        raise Conflict("This review item is already resolved.")
    rtype, rid = item.resource_type, item.resource_id
    session.lock(f"res:{rtype}/{rid}")
    current = session.current(rtype, rid, for_update=True)
    live = None if current is None or current.deleted else current.version
    expected = how.version if how.version is not None else item.server_version
    if live != expected:
        now_is = "no longer exists" if live is None else f"is now at version {live}"
        since = "this item was made" if how.version is None else f"version {how.version}"
        raise Conflict(
            f"The record changed on the server since {since}: it {now_is}. Nothing was "
            "written. Look at it again, then resolve with that version."
        )
    version: int | None = live  # keep server: the version kept, nothing written
    if how.keep != "server":
        content = item.device_value if how.keep == "device" else how.resource
        assert content is not None
        if content.get("resourceType") != rtype or content.get("id", rid) != rid:
            raise InvalidRequest(f"The resolution must be the {rtype} with id {rid}.")
        body = {**content, "id": rid}
        if live is None:
            out = act.create(rtype, body, new_id=rid)
            subtype = "create"
        else:  # on the version checked above, under its lock: never over a later one
            out = act.update(rtype, rid, body, if_match=f'W/"{live}"')
            subtype = "update"
        repo.trail.note(subtype, rtype=rtype, versions=[out.version])
        version = out.version.version
    outcome = "rejected" if how.keep == "server" else "confirmed"
    by = caller.fhir_user or caller.subject
    review.mark_resolved(
        session, item, keep=how.keep, outcome=outcome, version=version, by=by, now=now
    )
    entity = f"{rtype}/{rid}" + (f"/_history/{version}" if version is not None else "")
    done = "kept server version" if how.keep == "server" else f"kept {how.keep}, wrote version"
    repo.trail.note(
        "review-resolve",
        rtype=rtype,
        patients=[item.patient] if item.patient else [],
        entities=[entity],
        description=f"review item {item.id} resolved: "
        + (f"{done} {version}" if version is not None else f"kept {how.keep}"),
    )
    resolved = review.get(db, item.id)
    assert resolved is not None
    return resolved
