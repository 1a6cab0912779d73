"""The record a "keep server" resolution kept, sent to the device beside the outcome.

Keeping the server's side writes nothing (:mod:`bedside.sync.resolution`), so no change-feed
row tells the device to give up its own change: while its event waited in review, the device
held its local copy back over every server version the rounds sent
(:mod:`bedside.device.receive`). So a pull page that carries a ``rejected`` outcome for which a
server version was kept also carries the record as the server holds it now, when the caller may
see it (the same visibility as the rounds, :func:`bedside.fhir.search.confine.confine`,
confined to the working set); or, when it was deleted or left the caller's view, a tombstone,
if the version kept was one the device could hold (:func:`bedside.fhir.search.confine.admits`).
The device applies outcomes before resources, so its copy is replaced in the same page. It never
goes backwards (a round sending an older version later is skipped), so a page asked for again
changes nothing.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from typing import TYPE_CHECKING, Final

import orjson

from bedside.fhir.compartment import patients_of
from bedside.fhir.search.confine import admits, confine
from bedside.rest.access import Access
from bedside.store.base import Session
from bedside.sync.review import ReviewItem

if TYPE_CHECKING:
    from bedside.sync.pull import PullPage

__all__ = ["add_kept"]

_SEARCH: Final = "search"


def add_kept(
    session: Session,
    access: Access,
    items: Iterable[ReviewItem],
    patients: Collection[str],
    page: PullPage,
) -> None:
    """Add to ``page`` the records kept by the kept-server outcomes among ``items``."""
    for item in items:
        if item.outcome != "rejected" or item.outcome_version is None:
            continue  # confirmed: the version written comes through the rounds
        rtype, rid = item.resource_type, item.resource_id
        visible = confine(access.rows(rtype, _SEARCH), rtype, patients)
        shown = None if visible.nothing else session.current(rtype, rid, visible=visible)
        if shown is not None and not shown.deleted and shown.content is not None:
            page.resources.append(orjson.loads(shown.content))
            continue
        current = session.current(rtype, rid)
        was = session.version(rtype, rid, item.outcome_version)
        if current is None or was is None or was.content is None:
            continue
        before = orjson.loads(was.content)
        if admits(visible, before):
            page.deleted.append({"type": rtype, "id": rid, "version": str(current.version)})
            page.tombstone_patients.update(set(patients_of(before)) & set(patients))
