"""The auditor seam of the metrics: every access decision is audited, so it is counted here.

:class:`MeteredAuditor` wraps the server's :class:`~bedside.audit.entry.Auditor`. It counts
entries only once they are durable (``submit`` returned) or chained into the write transaction
that carries them (``append``), and times each ``submit``: the audit group commit as a request
waits on it. Entries are counted by their closed-set fields only (subtype, outcome, basis).
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from bedside.audit.entry import AuditEntry, Auditor
from bedside.metrics.registry import Metrics
from bedside.store.base import Records

__all__ = ["MeteredAuditor"]


class MeteredAuditor:
    """An :class:`Auditor` that also tells :class:`Metrics` what it recorded."""

    def __init__(self, inner: Auditor, metrics: Metrics) -> None:
        self.inner = inner
        self.metrics = metrics
        self.enabled = inner.enabled

    def append(self, records: Records, entries: Sequence[AuditEntry]) -> None:
        self.inner.append(records, entries)
        # counted once chained: a write transaction that fails after this (a database error)
        # is still counted; its request answers 5xx, which the HTTP counter shows
        self.metrics.audited(entries)

    def submit(self, entries: Sequence[AuditEntry]) -> None:
        if not entries:
            return
        started = time.perf_counter()
        self.inner.submit(entries)
        self.metrics.audit_committed(time.perf_counter() - started)
        self.metrics.audited(entries)

    def close(self) -> None:
        close = getattr(self.inner, "close", None)
        if close is not None:
            close()
