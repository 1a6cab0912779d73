"""The console's Upstream page (docs/console.md): how each upstream feed is doing, for the
people who must notice that admissions or results stopped arriving.

Counts, times and the dead letters' own sentences only (``reason`` never quotes a message: the
feeds write it so, docs/upstream.md); never a message, its control id or anything from it.
"""

from __future__ import annotations

from typing import Any

from bedside.store.base import Records
from bedside.upstream import ledger
from bedside.upstream.config import UpstreamConfig

__all__ = ["feeds"]

_KINDS = {"fhir": "FHIR server", "hl7v2": "HL7 v2 feed"}


def feeds(db: Records, config: UpstreamConfig | None, now: float) -> list[dict[str, Any]]:
    """One row per configured source (and any source the tables still name that the file no
    longer lists), with its open dead letters oldest first."""
    health = ledger.health(db)
    configured = config.sources if config is not None else {}
    out = []
    for name in sorted({*configured, *health}):
        h = health.get(name, ledger.SourceHealth())
        source = configured.get(name)
        letters = ledger.dead_letters(db, name) if h.dead_letters_open else []
        out.append(
            {
                "name": name,
                "kind": _KINDS.get(source.kind, source.kind) if source else "no longer configured",
                "authority": sorted(
                    k for k, v in (config.authority if config else {}).items() if v == name
                ),
                "delivered": h.delivered,
                "written": h.resources_written,
                "last_delivered": h.last_delivered_at,
                "last_pull": h.last_pull_at,
                "waiting": h.dead_letters_open,
                "oldest_age": None if h.oldest_open_at is None else max(0, now - h.oldest_open_at),
                "held": h.variants_held,
                "letters": [
                    {
                        "id": x.id,
                        "received": x.received_at,
                        "attempts": x.attempts,
                        "reason": x.reason,
                    }
                    for x in letters[:50]
                ],
            }
        )
    return out
