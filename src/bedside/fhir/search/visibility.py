"""Which rows of one resource type a caller may see, as a value the store turns into SQL.

A :class:`Visibility` is an OR of :class:`Alternative` s; each alternative is a Patient
compartment (or none: any patient) ANDed with search clauses (or none: any resource). It comes
from the caller's SMART scopes (``bedside.rest.access``) and is applied inside the store's
queries, so counts, pages and links only ever reflect visible rows. ``None`` where a Visibility
is expected means the grant puts no restriction on rows; ``Visibility(())`` means nothing is
visible.
"""

from __future__ import annotations

from dataclasses import dataclass

from bedside.fhir.compartment import Compartment
from bedside.fhir.search.query import Clause

__all__ = ["NOTHING", "Alternative", "Visibility"]


@dataclass(frozen=True, slots=True)
class Alternative:
    """Rows in ``compartment`` (any, when None) that match every clause."""

    compartment: Compartment | None = None
    clauses: tuple[Clause, ...] = ()


@dataclass(frozen=True, slots=True)
class Visibility:
    alternatives: tuple[Alternative, ...]

    @property
    def nothing(self) -> bool:
        return not self.alternatives

    def shared_compartment(self) -> Compartment | None:
        """The compartment every alternative is confined to, when they all share one."""
        first = self.alternatives[0].compartment if self.alternatives else None
        if first is None or any(a.compartment != first for a in self.alternatives):
            return None
        return first

    def covering_compartment(self) -> Compartment | None:
        """All alternatives' patients together, when every alternative is confined to some.

        The store lets it drive the query (one indexed lookup of the patients' references), then
        tests each alternative on the rows it found.
        """
        comps = [a.compartment for a in self.alternatives]
        if not comps or any(c is None for c in comps):
            return None
        cover = comps[0]
        assert cover is not None
        for c in comps[1:]:
            assert c is not None
            cover = cover.union(c)
        return cover


NOTHING = Visibility(())
