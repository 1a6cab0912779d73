"""The app factory uvicorn's worker processes call (``bedside serve --workers N``).

The parent process migrates the database, creates the keys and loads any demo data, then hands
each worker its settings in ``BEDSIDE_SERVE`` (JSON); every worker opens its own store and key
ring. Grants, revocations and users live in the database, so workers agree on them at once.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import orjson
from starlette.types import ASGIApp

ENV = "BEDSIDE_SERVE"


def settings_for_workers(
    data_dir: Path, database_url: str, fhir_base: str, root: str, access_ttl: int
) -> str:
    return orjson.dumps(
        {
            "data_dir": str(data_dir),
            "database_url": database_url,
            "fhir_base": fhir_base,
            "root": root,
            "access_ttl": access_ttl,
        }
    ).decode()


def build(
    data_dir: Path, database_url: str, fhir_base: str, root: str, access_ttl: int
) -> tuple[ASGIApp, Any]:
    """The app and its store (so the caller can close it)."""
    from bedside.auth.keys import KeyRing
    from bedside.auth.server import AuthConfig, AuthServer
    from bedside.store import open_store
    from bedside.web.app import create_app

    store = open_store(database_url)
    auth = AuthServer(store, KeyRing(data_dir), AuthConfig(fhir_base, root, access_ttl=access_ttl))
    return create_app(store, auth), store


def worker_app() -> ASGIApp:
    cfg = orjson.loads(os.environ[ENV])
    app, _ = build(
        Path(cfg["data_dir"]),
        cfg["database_url"],
        cfg["fhir_base"],
        cfg["root"],
        int(cfg["access_ttl"]),
    )
    return app
