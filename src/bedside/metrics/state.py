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
from typing import Final

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from bedside.fleet import compliance, telemetry
from bedside.fleet import registry as devices
from bedside.policy.rules import PolicyRules
from bedside.store.base import Store
from bedside.sync import review

__all__ = ["SILENT", "DatabaseState"]

log = logging.getLogger("bedside.metrics")


#: How long without a report before an active device counts as silent (``over`` label).
SILENT: Final = {"1h": 3600, "24h": 86400}


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
                health = telemetry.active_reports(db)
                listed = devices.listing(db)
                reports = telemetry.reports(db)
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
        steps = dict.fromkeys(compliance.STEPS, 0)
        for d in listed:
            report = reports.get(d["device_id"])
            posture = compliance.latest_posture(report.posture if report else None, d["posture"])
            steps[compliance.step(d["status"], posture)] += 1
        by_step = GaugeMetricFamily(
            "bedside_devices_compliance",
            "Devices by compliance step (docs/operations.md): compliant, unknown, not-compliant"
            " (as their posture was last reported), revoked, wipe.",
            labels=["step"],
        )
        for name, n in steps.items():
            by_step.add_metric([name], n)
        yield by_step
        yield from self._health(health, now)
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

    def _health(
        self, health: list[tuple[int, telemetry.Report | None]], now: float
    ) -> Iterator[GaugeMetricFamily]:
        """What active devices last reported, aggregated: totals and worst cases only."""
        outbox = GaugeMetricFamily(
            "bedside_device_outbox_events",
            "Events in active devices' outboxes as last reported, summed, by state.",
            labels=["state"],
        )
        totals = dict.fromkeys(telemetry.OUTBOX_STATES, 0)
        oldest = cache = 0.0
        silent = dict.fromkeys(SILENT, 0)
        for registered, report in health:
            last = report.reported_at if report is not None else registered
            for over, seconds in SILENT.items():
                silent[over] += int(now - last > seconds)
            if report is None:
                continue
            since = max(0.0, now - report.reported_at)  # what was old then is older now
            for state, n in report.outbox.items():
                totals[state] = totals.get(state, 0) + n
            if report.unsent and report.oldest_pending_age_s is not None:
                oldest = max(oldest, report.oldest_pending_age_s + since)
            if report.cache_age_s is not None:
                cache = max(cache, report.cache_age_s + since)
        for state, n in totals.items():
            outbox.add_metric([state], n)
        yield outbox
        yield GaugeMetricFamily(
            "bedside_device_oldest_pending_age_seconds",
            "Age of the oldest unsent event on any active device, as last reported (0: none).",
            value=oldest,
        )
        yield GaugeMetricFamily(
            "bedside_device_cache_age_seconds_max",
            "The longest time since an active device's last successful pull, as last reported.",
            value=cache,
        )
        quiet = GaugeMetricFamily(
            "bedside_devices_silent",
            "Active devices with no report (nor registration) for longer than ``over``.",
            labels=["over"],
        )
        for over, n in silent.items():
            quiet.add_metric([over], n)
        yield quiet
