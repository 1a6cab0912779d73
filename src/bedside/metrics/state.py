"""Figures read from the database at each scrape: the same whichever worker answers.

The review queue (open items and the age of the oldest, by conflict class and reason), devices
by status (active, revoked, flagged to wipe), the outbox depth and oldest pending age devices
last reported (summed or maxed over devices: no per-device series), and the answering
process's database pool. Counts and ages only: no label names a patient, a user or a device.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from bedside.devices import registry as devices
from bedside.policy.rules import PolicyRules
from bedside.store.base import Store
from bedside.sync import review

__all__ = ["DatabaseState"]

log = logging.getLogger("bedside.metrics")


class DatabaseState(Collector):
    """A prometheus-client collector over the store (read in one read transaction)."""

    def __init__(
        self, store: Store, rules: PolicyRules, clock: Callable[[], float] = time.time
    ) -> None:
        self.store = store
        self.rules = rules
        self.clock = clock

    def collect(self) -> Iterator[GaugeMetricFamily]:
        try:
            with self.store.records() as db:
                queue = review.open_counts(db)
                statuses = devices.status_counts(db)
        except Exception as exc:  # a scrape must answer; the database's trouble shows elsewhere
            log.warning(
                "metrics: database state unavailable", extra={"error_type": type(exc).__name__}
            )
            return
        now = self.clock()
        depth = GaugeMetricFamily(
            "bedside_review_queue_depth",
            "Open review items by conflict class and reason.",
            labels=["class", "reason"],
        )
        age = GaugeMetricFamily(
            "bedside_review_queue_oldest_age_seconds",
            "Age of the oldest open review item by conflict class and reason.",
            labels=["class", "reason"],
        )
        grouped: dict[tuple[str, str], tuple[int, int]] = {}
        for rtype, code, n, oldest in queue:
            key = (self.rules.sync.conflict_class(rtype), code)
            count, first = grouped.get(key, (0, oldest))
            grouped[key] = (count + n, min(first, oldest))
        for (cls, code), (n, oldest) in sorted(grouped.items()):
            depth.add_metric([cls, code], n)
            age.add_metric([cls, code], max(0.0, now - oldest))
        yield depth
        yield age
        registered = GaugeMetricFamily(
            "bedside_devices", "Registered devices by status.", labels=["status"]
        )
        for status in devices.STATUSES:
            registered.add_metric([status], statuses.get(status, 0))
        yield registered
        usage = getattr(self.store, "pool_usage", None)
        if usage is not None:
            pool = GaugeMetricFamily(
                "bedside_db_pool_connections",
                "The answering process's PostgreSQL pool: size, idle, waiting, max.",
                labels=["state"],
            )
            for state, n in usage().items():
                pool.add_metric([state], n)
            yield pool
