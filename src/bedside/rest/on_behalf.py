"""Writes made on the caller's behalf at another time: a device's signed events (ADR 0017).

A device's user acted earlier, offline, under a purposeOfUse; sync applies the change now, in a
write transaction it holds for the whole push. :meth:`bedside.rest.repository.Repository.on_behalf`
declares that action (when the user acted by the device's clock, the purpose, the device) and
gives an :class:`OnBehalf`: the caller's interactions with the same checks, validation,
Provenance and audit as the API's, the Provenance and audit entries saying when and why the user
acted. Sync never reaches into the Repository's audit trail, write hooks or access.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from bedside.policy.model import AccessView
from bedside.protocol.event import parse_time
from bedside.store.base import Session, StoredVersion

if TYPE_CHECKING:
    from bedside.fhir.search.visibility import Visibility
    from bedside.rest.interactions import Interactions
    from bedside.rest.repository import Repository

__all__ = ["OnBehalf"]


class OnBehalf:
    """The caller's writes for one action taken at ``occurred`` (RFC 3339, the device's clock),
    under ``purpose``, from ``device``; built by :meth:`Repository.on_behalf`, which declares
    them for everything noted until the next declaration."""

    def __init__(
        self,
        repo: Repository,
        *,
        occurred: str | None,
        purpose: str | None,
        device: str | None,
    ) -> None:
        self._repo = repo
        self._act: Interactions | None = None
        at = parse_time(occurred) if occurred is not None else None
        repo.trail.view = None  # until this action's own view is bound
        repo.trail.occurred_ms = None if at is None else round(at * 1000)
        repo.hooks.occurred, repo.hooks.purpose = occurred, purpose
        repo.hooks.device = device

    def bind(self, session: Session, view: AccessView) -> None:
        """Decide with ``view`` (the policy's view, perhaps widened by a break-glass grant that
        covered the time the user acted), in ``session``'s open write transaction."""
        self._act = self._repo.bind(session, view)

    @property
    def _interactions(self) -> Interactions:
        assert self._act is not None, "bind() first"
        return self._act

    def require(self, rtype: str, interaction: str) -> None:
        """:class:`~bedside.errors.Forbidden` unless the caller may do ``interaction`` on
        ``rtype`` at all."""
        self._interactions.access.require(rtype, interaction)

    def rows(self, rtype: str, interaction: str) -> Visibility | None:
        """Which ``rtype`` rows the caller may ``interaction`` (None: all)."""
        return self._interactions.access.rows(rtype, interaction)

    def create(self, rtype: str, resource: dict[str, Any], *, new_id: str) -> StoredVersion:
        """Create ``rtype/new_id`` as the API does, audited as a create."""
        return self._noted(self._interactions.create(rtype, resource, new_id=new_id).version)

    def update(
        self, rtype: str, rid: str, resource: dict[str, Any], *, if_match: str
    ) -> StoredVersion:
        """Update ``rtype/rid`` as the API does (``if_match`` the version it is based on)."""
        out = self._interactions.update(rtype, rid, resource, if_match=if_match)
        return self._noted(out.version)

    def note(self, subtype: str, **details: Any) -> None:
        """An audit entry for this action (e.g. ``sync-review``, ``sync-reject``), with the
        time the user acted (:meth:`bedside.rest.trail.Trail.note`'s keywords)."""
        self._repo.trail.note(subtype, **details)

    def submit(self) -> None:
        """Make what was noted durable outside any transaction (an action refused before one
        began: nothing of it is stored)."""
        trail = self._repo.trail
        entries, trail.entries = trail.entries, []
        self._repo.auditor.submit(entries)

    def _noted(self, stored: StoredVersion) -> StoredVersion:
        subtype = "create" if stored.version == 1 else "update"
        self._repo.trail.note(subtype, rtype=stored.type, versions=[stored])
        return stored
