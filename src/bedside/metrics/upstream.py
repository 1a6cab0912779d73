"""The upstream feeds on ``/metrics`` (docs/upstream.md, docs/operations.md).

Two kinds of figure, read at each scrape:

* **this process's counters** (:class:`bedside.upstream.counters.Counters`): messages received,
  answered ``AA`` (accepted) or ``AE``/``AR`` (refused), resends, pulls, resources written or
  refused. The MLLP listener runs only in a single-process ``bedside serve`` (``--workers 1``),
  so that process counts every message; a pull by a separate ``bedside upstream run`` is counted
  in that process, not here, and shows below as its last pull time;
* **the database's state** (:func:`bedside.upstream.ledger.health`), the same whichever worker
  answers: dead letters waiting and the age of the oldest, when each source last delivered
  and was last pulled, variants held.

The only label is the source's name from ``upstream.toml`` (an operator's word, a closed set):
a message cannot make a new series, and nothing from a message is ever a label or a value.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from typing import Final

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from bedside.store.base import Store
from bedside.upstream import ledger
from bedside.upstream.service import Upstream

__all__ = ["UpstreamState"]

log = logging.getLogger("bedside.metrics")

#: counter name in :class:`Counters` → (metric name, help)
_COUNTERS: Final = {
    "messages_received": (
        "bedside_upstream_messages_received",
        "HL7 v2 messages received by this process, by source.",
    ),
    "messages_duplicate": (
        "bedside_upstream_messages_duplicate",
        "Messages received again that changed nothing (answered AA), by source.",
    ),
    "pulls": ("bedside_upstream_pulls", "FHIR source pulls run by this process, by source."),
    "resources_written": (
        "bedside_upstream_resources_written",
        "Resources written from upstream by this process, by source.",
    ),
    "resources_refused": (
        "bedside_upstream_resources_refused",
        "FHIR source versions that could not be written (kept as dead letters), by source.",
    ),
}


class UpstreamState(Collector):
    """A prometheus-client collector over one server's :class:`Upstream` and its tables."""

    def __init__(
        self, store: Store, upstream: Upstream, clock: Callable[[], float] = time.time
    ) -> None:
        self.store = store
        self.upstream = upstream
        self.clock = clock

    def collect(self) -> Iterator[CounterMetricFamily | GaugeMetricFamily]:
        names = sorted(self.upstream.config.sources)
        if not names:
            return
        counts = {name: self.upstream.counters[name].snapshot() for name in names}
        answered = CounterMetricFamily(
            "bedside_upstream_messages_answered",
            "HL7 v2 messages answered by this process, by source and acknowledgement:"
            " accepted (AA) or refused (AE, AR: kept as dead letters).",
            labels=["source", "ack"],
        )
        for name in names:
            answered.add_metric([name, "accepted"], counts[name].get("messages_accepted", 0))
            answered.add_metric([name, "refused"], counts[name].get("messages_refused", 0))
        yield answered
        for key, (metric, text) in _COUNTERS.items():
            family = CounterMetricFamily(metric, text, labels=["source"])
            for name in names:
                family.add_metric([name], counts[name].get(key, 0))
            yield family
        yield from self._stored(names)

    def _stored(self, names: list[str]) -> Iterator[GaugeMetricFamily]:
        try:
            with self.store.records() as db:
                health = ledger.health(db)
        except Exception as exc:  # a scrape must answer; the database's trouble shows elsewhere
            log.warning(
                "metrics: upstream state unavailable", extra={"error_type": type(exc).__name__}
            )
            return
        now = self.clock()
        waiting = GaugeMetricFamily(
            "bedside_upstream_dead_letters_open",
            "Dead letters waiting (open: not yet retried successfully), by source.",
            labels=["source"],
        )
        oldest = GaugeMetricFamily(
            "bedside_upstream_dead_letter_oldest_age_seconds",
            "Age of the oldest open dead letter, by source (0 when none is waiting).",
            labels=["source"],
        )
        held = GaugeMetricFamily(
            "bedside_upstream_variants_held",
            "Values held back because another source is authoritative, by source.",
            labels=["source"],
        )
        delivered = GaugeMetricFamily(
            "bedside_upstream_last_delivery_timestamp_seconds",
            "When a source last delivered something new or changed (UNIX seconds).",
            labels=["source"],
        )
        pulled = GaugeMetricFamily(
            "bedside_upstream_last_pull_timestamp_seconds",
            "When a FHIR source was last pulled to a new high-water mark (UNIX seconds).",
            labels=["source"],
        )
        for name in names:
            h = health.get(name, ledger.SourceHealth())
            waiting.add_metric([name], h.dead_letters_open)
            first = h.oldest_open_at
            oldest.add_metric([name], max(0.0, now - first) if first is not None else 0.0)
            held.add_metric([name], h.variants_held)
            if h.last_delivered_at is not None:
                delivered.add_metric([name], h.last_delivered_at)
            if h.last_pull_at is not None:
                pulled.add_metric([name], h.last_pull_at)
        yield from (waiting, oldest, held, delivered, pulled)
