"""Where each value on the portal came from, and what to show when two sources disagree.

Each result, medicine, condition, allergy and vaccination carries a source line ("From City
Hospital laboratory, received 4 March 2026", :mod:`bedside.origin`), or "Recorded in Bedside"
(or the performing organisation) for what was not ingested. Two upstream sources keep their own
copies of a clinical fact (their ids include the source system, docs/upstream.md), so the same
test at the same time, or the same condition on the same date, can arrive twice with different
values. Both are kept; the portal shows one as the value and the other under a short "Other
value from <source>" disclosure, saying which source is authoritative for that data class
(``[authority]`` in ``upstream.toml``). Without an authority the newer one is shown first and
the page says that no source is set as the main one: the portal never silently picks a winner.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Final, TypeVar

from bedside.origin import source_line, source_name
from bedside.upstream.config import UpstreamConfig

__all__ = ["Other", "PortalSources", "with_others"]

T = TypeVar("T")

#: data class of ``[authority]`` → the words for it on a page
_CLASS_WORDS: Final = {
    "Observation": "results",
    "DiagnosticReport": "results",
    "Condition": "conditions",
    "AllergyIntolerance": "allergies",
    "MedicationRequest": "medicines",
    "MedicationStatement": "medicines",
    "Immunization": "vaccinations",
}


@dataclass(frozen=True, slots=True)
class Other:
    """A different value another source holds for the same thing."""

    source: str  # "City Hospital laboratory"
    line: str  # "From City Hospital laboratory, received 4 March 2026"
    value: str  # "5.2 mmol/L", "Resolved"


@dataclass(frozen=True, slots=True)
class _Seen:
    item: Any
    name: str | None  # the upstream source's name, None for Bedside's own
    line: str
    value: str
    updated: str


class PortalSources:
    """The names of the configured upstream systems and who is authoritative for what."""

    def __init__(self, config: UpstreamConfig | None = None) -> None:
        self.config = config
        sources = config.sources.values() if config else ()
        self.names = {s.system: s.label or s.name for s in sources}

    def name(self, resource: dict[str, Any]) -> str | None:
        return source_name(resource, self.names)

    def line(self, resource: dict[str, Any], day: Callable[[Any], str], otherwise: str = "") -> str:
        return source_line(
            resource, day, known=self.names, otherwise=otherwise or "Recorded in Bedside"
        )

    def main(self, rtype: str) -> str | None:
        """The name of the source authoritative for ``rtype``'s data class, if one is set."""
        if self.config is None:
            return None
        owner = self.config.authoritative(rtype)
        source = self.config.sources.get(owner or "")
        return (source.label or source.name) if source else None

    def settle(
        self,
        rtype: str,
        found: Sequence[tuple[dict[str, Any], T, str, str]],
        day: Callable[[Any], str],
        attach: Callable[[T, tuple[Other, ...], str], T],
    ) -> list[T]:
        """``found``: (resource, item, key, value) in display order. Items with one key from
        two or more sources whose values differ become one: the authoritative source's (else
        the newest), with the others attached by ``attach(item, others, sentence)``."""
        groups: dict[str, list[_Seen]] = {}
        order: list[str] = []
        for resource, item, key, value in found:
            updated = str((resource.get("meta") or {}).get("lastUpdated") or "")
            seen = _Seen(item, self.name(resource), self.line(resource, day), value, updated)
            if key not in groups:
                order.append(key)
            groups.setdefault(key, []).append(seen)
        out: list[T] = []
        main = self.main(rtype)
        for key in order:
            group = groups[key]
            sources = {g.name for g in group}
            if len(group) < 2 or len(sources) < 2 or len({g.value for g in group}) < 2:
                out.extend(g.item for g in group)
                continue
            ranked = sorted(group, key=lambda g: g.updated, reverse=True)
            if main is not None:  # stable: the authority's first, else still newest first
                ranked.sort(key=lambda g: g.name != main)
            first, rest = ranked[0], ranked[1:]
            others = tuple(
                Other(g.name or "Bedside", g.line, g.value) for g in rest if g.value != first.value
            )
            out.append(attach(first.item, others, self._sentence(rtype, main, first.name)))
        return out

    @staticmethod
    def _sentence(rtype: str, main: str | None, shown: str | None) -> str:
        words = _CLASS_WORDS.get(rtype, "this kind of record")
        if main is not None and main == shown:
            return f"{main} is the main source for {words}, so its value is shown first."
        if main is not None:
            return (
                f"Neither value is from {main}, the main source for {words}: the newer value is"
                " shown first. Ask your care team which is right."
            )
        return (
            f"No source is set as the main one for {words}: the newer value is shown first."
            " Ask your care team which is right."
        )


def with_others(item: T, others: tuple[Other, ...], main: str) -> T:
    """``attach`` for the portal's frozen dataclasses with ``others`` and ``main`` fields."""
    return dataclasses.replace(item, others=others, main=main)  # type: ignore[type-var]
