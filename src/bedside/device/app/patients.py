"""My patients: the working set grouped under "Pinned" and by ward, and search within it.

Each card: name, age and sex, ward and bed, the latest NEWS2 with its band in words (and
colour) and how long ago it was taken, and a badge when items wait to sync or need review.
Search matches a name or an identifier among the patients already on the device, so a
patient outside the working set is never hinted at; the search text is POSTed (a URL would
carry it into history and logs), and the answer is the same page, filtered.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Final

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bedside.device.app import views
from bedside.device.app.pages import Pages, form_of
from bedside.device.ward import BoardEntry

__all__ = ["NO_WARD", "PINNED", "Card", "card", "group", "routes"]

PINNED: Final = "Pinned"
NO_WARD: Final = "No ward recorded"
_MAX_QUERY: Final = 100


@dataclass(frozen=True, slots=True)
class Card:
    id: str
    name: str
    age: str
    sex: str
    place: str
    identifier: str
    score: views.Score | None
    taken: str
    unsynced: int
    needs_review: int
    rejected: int


def card(entry: BoardEntry, now: float) -> Card:
    p = entry.patient
    score = views.news2_of(entry.news2)
    return Card(
        id=p.id,
        name=p.display or "Name not recorded",
        age=views.age(p.birth_date),
        sex=views.sex(p.gender) if p.gender else "sex not recorded",
        place=" · ".join(entry.locations) or NO_WARD,
        identifier=entry.identifier or "",
        score=score,
        taken=views.since(score.taken, now) if score and score.taken else "",
        unsynced=entry.unsynced,
        needs_review=entry.needs_review,
        rejected=entry.rejected,
    )


def group(entries: list[BoardEntry], now: float) -> list[tuple[str, list[Card]]]:
    """ "Pinned" first, then each ward by name, then the patients with no ward recorded."""
    groups: dict[str, list[Card]] = defaultdict(list)
    for entry in entries:
        ward = entry.locations[0] if entry.locations else NO_WARD
        groups[PINNED if entry.patient.pinned else ward].append(card(entry, now))
    order = sorted(groups, key=lambda g: (g != PINNED, g == NO_WARD, g.lower()))
    return [(name, groups[name]) for name in order]


def _matches(entry: BoardEntry, query: str) -> bool:
    words = query.casefold().split()
    name = entry.patient.display.casefold()
    ident = (entry.identifier or "").casefold()
    return all(w in name or w in ident for w in words)


def routes(pages: Pages) -> list[Route]:
    node = pages.node

    def show(request: Request, query: str = "", status: int = 200) -> Response:
        entries = node.board()
        shown = [e for e in entries if _matches(e, query)] if query else entries
        return pages.render(
            request,
            "patients",
            status=status,
            title="My patients",
            groups=group(shown, node.clock()),
            total=len(entries),
            found=len(shown),
            query=query,
        )

    def listing(request: Request) -> Response:
        return show(request)

    async def search(request: Request) -> Response:
        form = await form_of(request)
        query = str(form.get("q") or "").strip()[:_MAX_QUERY]
        return await run_in_threadpool(show, request, query)

    return [
        Route("/patients", listing, methods=["GET"]),
        Route("/patients/search", search, methods=["POST"]),
    ]
