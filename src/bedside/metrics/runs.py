"""The per-run directory prometheus-client's multiprocess mode writes to (``--workers N``).

Created by ``bedside serve`` before its workers start and removed when it stops, so a run never
adds to the counts of an earlier one and leaves nothing behind. Counters and histograms only
(no live gauges): a worker that dies keeps its counts, which is what a counter means.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from bedside.metrics.registry import MULTIPROC_ENV

__all__ = ["run_directory"]


@contextlib.contextmanager
def run_directory() -> Iterator[Path]:
    """A fresh owner-only directory named in ``PROMETHEUS_MULTIPROC_DIR`` while it lasts."""
    path = Path(tempfile.mkdtemp(prefix="bedside-metrics-"))  # mode 0700
    before = os.environ.get(MULTIPROC_ENV)
    os.environ[MULTIPROC_ENV] = str(path)
    try:
        yield path
    finally:
        if before is None:
            os.environ.pop(MULTIPROC_ENV, None)
        else:
            os.environ[MULTIPROC_ENV] = before
        shutil.rmtree(path, ignore_errors=True)
