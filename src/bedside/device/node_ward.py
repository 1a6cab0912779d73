"""The node's reads and writes for the clinician app beyond a chart: the ward board, the sync
state of each recorded item, and a set of readings recorded as one action.

A part of :class:`bedside.device.node.Node` (a mixin, like :mod:`~bedside.device.node_sync`);
each method is a use of the device (it keeps it awake) and runs under the node's lock.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import Any

from bedside.device import ward, writes
from bedside.device.session import Session
from bedside.device.ward import BoardEntry, ItemState
from bedside.device.writes import Recorded

__all__ = ["WardSide"]


class WardSide:
    """What the clinician app asks of a node beyond :meth:`Node.chart` and :meth:`Node.record`."""

    def _use(self, *, background: bool = False) -> AbstractContextManager[Session]:
        raise NotImplementedError  # Node's

    def board(self) -> list[BoardEntry]:
        """The working set as the patient list shows it (:mod:`bedside.device.ward`)."""
        with self._use() as s:
            return ward.board(s)

    def item_states(self, patient: str) -> dict[tuple[str, str], ItemState]:
        """(type, id) -> the sync state of the latest event recorded here for that resource."""
        with self._use() as s:
            return ward.item_states(s, patient)

    def record_set(
        self, resources: list[dict[str, Any]], patient: str, *, draft: str | None = None
    ) -> list[Recorded]:
        """Create ``resources`` for ``patient`` as one action: all saved, or none (and the
        ``draft`` they were typed into deleted with them)."""
        with self._use() as s:
            return writes.record_set(s, resources, patient, draft=draft)

    def may(self, action: str, rtype: str) -> bool:
        """Whether the snapshot this device holds lets its user ``action`` (create, update)
        ``rtype`` offline: what decides which actions a screen offers (never a role name)."""
        letter = {"create": "c", "update": "u", "correct": "u"}.get(action, "")
        with self._use() as s:
            return bool(letter) and letter in s.policy.letters(rtype)

    def practitioner(self) -> str | None:
        """The user's ``fhirUser`` from the snapshot (``Practitioner/…``), to name as author."""
        with self._use() as s:
            who = s.policy.claims.get("fhirUser")
        return who if isinstance(who, str) and who else None
