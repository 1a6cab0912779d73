"""The node's side of offline break-glass (:mod:`bedside.device.breakglass`): what the app asks
about a patient outside the working set, opening the glass with the PIN and a reason, and what
sync sends first and settles.

A part of :class:`bedside.device.node.Node` (a mixin, like :mod:`~bedside.device.node_sync`).
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from dataclasses import dataclass

from bedside.device import breakglass
from bedside.device.breakglass import Grant
from bedside.device.clock import ServerClock
from bedside.device.errors import KeysLocked
from bedside.device.session import Session

__all__ = ["GlassSide", "GlassState", "refresh"]


@dataclass(frozen=True, slots=True)
class GlassState:
    """What the app may say about one patient (no PHI beyond a held name)."""

    reached: bool  # within the working set, or under a running break-glass
    grant: Grant | None  # the running break-glass on this patient, if any
    offer: str | None  # None: break-glass may open now; else why not
    minutes: int  # how long a break-glass lasts
    sync_hours: int  # how soon it must reach the server
    held: int  # records this device holds for the patient
    name: str | None  # the held name, when the device has the patient's row


def refresh(s: Session) -> None:
    """The session's policy with the running grants laid over it."""
    with s.store.reading() as conn:
        running = breakglass.active(conn, s.clock.server(s.clock()))
    s.policy = breakglass.overlay(s.policy, running)


class GlassSide:
    _clock: ServerClock

    def _use(self, *, background: bool = False) -> AbstractContextManager[Session]:
        raise NotImplementedError  # Node's

    def _end(self, *, keep_quick: bool) -> None:
        raise NotImplementedError  # Node's

    def glass(self, patient: str) -> GlassState:
        with self._use() as s:
            refresh(s)  # a grant that ran out ends here, before the decision
            now = s.clock()
            at = s.clock.server(now)
            with s.store.reading() as conn:
                grant = next((g for g in breakglass.active(conn, at) if g.patient == patient), None)
                offer = breakglass.why_not(conn, s.policy, at)
                count = breakglass.held(conn, patient)
                row = conn.execute(
                    "SELECT display FROM patients WHERE id = ?", (patient,)
                ).fetchone()
            rules = breakglass.rules_of(s.policy)
            return GlassState(
                reached=s.policy.reaches(patient, now),
                grant=grant,
                offer=offer,
                minutes=round(rules.seconds / 60) if rules else 0,
                sync_hours=round(rules.sync_seconds / 3600) if rules else 0,
                held=count,
                name=str(row[0]) if row and row[0] else None,
            )

    def held_patient(self, text: str) -> str | None:
        """The id of a patient this device holds whose id, or whole name, is ``text``."""
        wanted = " ".join(text.split()).casefold()
        with self._use() as s, s.store.reading() as conn:
            rows = conn.execute("SELECT id, display FROM patients").fetchall()
        for pid, display in rows:
            if str(pid).casefold() == wanted or " ".join(str(display).split()).casefold() == wanted:
                return str(pid)
        return None

    def break_glass(self, patient: str, pin: str, reason: str) -> Grant:
        """Open break-glass on ``patient``: the PIN again (a counted attempt: WrongPin, and
        after the last one KeysLocked, which also locks the device), then the reason."""
        with self._use() as s:
            try:
                s.keyfile.unlock(pin)
            except KeysLocked:
                self._end(keep_quick=False)
                raise
            with s.store.transaction() as tx:
                grant = breakglass.start(tx, s.policy, patient, reason, s.clock())
            refresh(s)
            return grant

    def glass_outgoing(self) -> tuple[list[dict[str, object]], list[int]]:
        with self._use(background=True) as s, s.store.reading() as conn:
            return breakglass.outgoing(conn, s.clock.server)

    def glass_settle(self, results: list[dict[str, object]], carried: list[int]) -> int:
        with self._use(background=True) as s:
            with s.store.transaction() as tx:
                done = breakglass.settle(tx, results, carried, s.clock())
            refresh(s)
            return done
