"""A `bedside serve` process shared by every test of one module, on each backend.

Starting a server costs about a second; modules with many small HTTP tests share one per
backend and keep their tests apart with fresh ids and identifiers instead.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager

import pytest

from tests.conftest import Server, fresh_pg_schema, start_server, stop_server


@contextmanager
def live_server(
    factory: pytest.TempPathFactory, backend: str, *extra: str
) -> Iterator[tuple[Server, str]]:
    """A server on ``backend`` and its database URL; stopped (and its PostgreSQL schema
    dropped) on exit, also when setup fails half way."""
    tmp = factory.mktemp(f"live-{backend}")
    with ExitStack() as stack:
        if backend == "sqlite":
            url = f"sqlite:///{tmp / 'bedside.db'}"
        else:
            url = stack.enter_context(fresh_pg_schema()).url
        srv = start_server(tmp / "data", url, *extra)
        try:
            yield srv, url
        finally:
            stop_server(srv)


def module_server(factory: pytest.TempPathFactory, backend: str) -> Iterator[Server]:
    with live_server(factory, backend) as (srv, _):
        yield srv
