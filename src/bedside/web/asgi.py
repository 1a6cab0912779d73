"""The app factory uvicorn's worker processes call (``bedside serve --workers N``).

The parent process migrates the database, creates the keys and loads any demo data, then hands
each worker its settings in ``BEDSIDE_SERVE`` (JSON); every worker opens its own store and key
ring. Grants, revocations and users live in the database, so workers agree on them at once.
"""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path
from typing import Any

import orjson
from starlette.types import ASGIApp

from bedside.consent.evaluate import shares_for
from bedside.settings import BodyLimits

__all__ = ["ENV", "build", "settings_for_workers", "worker_app"]

ENV = "BEDSIDE_SERVE"


def settings_for_workers(
    data_dir: Path,
    database_url: str,
    fhir_base: str,
    root: str,
    access_ttl: int,
    *,
    log_level: str = "info",
    log_json: bool = False,
    policy_file: Path | None = None,
    body_limits: BodyLimits | None = None,
    refresh_grace: int | None = None,
) -> str:
    limits = body_limits or BodyLimits()
    return orjson.dumps(
        {
            "data_dir": str(data_dir),
            "database_url": database_url,
            "fhir_base": fhir_base,
            "root": root,
            "access_ttl": access_ttl,
            "log_level": log_level,
            "log_json": log_json,
            "policy_file": str(policy_file) if policy_file else None,
            "body_limits": [limits.fhir, limits.sync, limits.other],
            "refresh_grace": refresh_grace,
        }
    ).decode()


def build(
    data_dir: Path,
    database_url: str,
    fhir_base: str,
    root: str,
    access_ttl: int,
    policy_file: Path | None = None,
    body_limits: BodyLimits | None = None,
    refresh_grace: int | None = None,
    upstream_file: Path | None = None,
    listen_mllp: bool = True,
) -> tuple[ASGIApp, Any]:
    """The app and its store (so the caller can close it).

    The access policy is ``policy_file``, else ``<data dir>/policy.toml``, else the default.
    The upstream sources are ``upstream_file``, else ``<data dir>/upstream.toml`` (checked here,
    so a mistake stops the start); HL7 v2 sources with an ``mllp_port`` listen while the app
    runs, unless ``listen_mllp`` is False (worker processes: only one process may bind a port).
    """
    from bedside.audit.chain import auditor_from_env
    from bedside.auth.keys import KeyRing
    from bedside.auth.server import AuthConfig, AuthServer
    from bedside.metrics.audited import MeteredAuditor
    from bedside.metrics.registry import Metrics
    from bedside.policy.decide import Policy
    from bedside.policy.rules import PolicyRules
    from bedside.store import open_store
    from bedside.upstream import Upstream
    from bedside.upstream import load as load_upstream
    from bedside.web.app import create_app

    rules = PolicyRules.load(policy_file or data_dir / "policy.toml")
    sources = load_upstream(upstream_file or data_dir / "upstream.toml", data_dir)
    store = open_store(database_url)
    config = AuthConfig(fhir_base, root, access_ttl=access_ttl)
    if refresh_grace is not None:
        config = replace(config, refresh_grace=refresh_grace)
    metrics = Metrics()  # docs/operations.md; GET /metrics for the scrape token's holder
    auditor = MeteredAuditor(auditor_from_env(store, fhir_base), metrics)
    auth = AuthServer(store, KeyRing(data_dir), config, auditor=auditor)
    policy = Policy(rules, consents=shares_for)
    upstream = Upstream(store, sources, fhir_base, policy=policy, auditor=auditor)
    upstream.check()
    services = [upstream.listening] if listen_mllp and sources.listens else []
    app = create_app(
        store,
        auth,
        policy=policy,
        auditor=auditor,
        metrics=metrics,
        body_limits=body_limits,
        services=services,
        upstream=upstream,
    )
    return app, store


def worker_app() -> ASGIApp:
    from bedside.logs import configure_logging

    cfg = orjson.loads(os.environ[ENV])
    # a spawned worker starts with stdlib logging unconfigured: scrub its lines too
    configure_logging(str(cfg.get("log_level", "info")), json=bool(cfg.get("log_json", False)))
    app, _ = build(
        Path(cfg["data_dir"]),
        cfg["database_url"],
        cfg["fhir_base"],
        cfg["root"],
        int(cfg["access_ttl"]),
        Path(cfg["policy_file"]) if cfg.get("policy_file") else None,
        BodyLimits(*cfg["body_limits"]) if cfg.get("body_limits") else None,
        cfg.get("refresh_grace"),
        listen_mllp=False,
    )
    return app
