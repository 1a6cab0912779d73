"""The server's Prometheus metrics: one :class:`Metrics` per app, built by the app factory.

Every figure is counted at a seam that already exists, not sprinkled through the code:

* the access log middleware (:mod:`bedside.web.access_log`) gives each HTTP request's route
  template, status and duration (and so the sync push and pull latencies);
* the auditor (:class:`bedside.metrics.audited.MeteredAuditor`) sees every audit entry, and
  every access decision is one: FHIR interactions, access by basis, consent denials, sign-ins,
  break-glass grants, consent changes; and it times the audit group commit;
* the token endpoint's route gives token issues and refusals by OAuth error code;
* sync push hands over the results it answered (:attr:`bedside.sync.ingest.Ingest.tally`);
* the queue and device figures are read from the database when scraped
  (:mod:`bedside.metrics.state`), so every worker answers the same.

**No label identifies a person, a device or a record.** Labels take values from closed sets
(route templates, FHIR interaction codes, OAuth error codes, sync result and reason codes,
access bases); anything outside its set is counted as ``other``. Hostile input cannot make a
new series.

**Several processes** (``bedside serve --workers N``): prometheus-client's multiprocess mode.
The parent creates a fresh directory, names it in ``PROMETHEUS_MULTIPROC_DIR`` before the
workers start, and removes it when the server stops (:func:`bedside.metrics.runs.run_directory`);
each worker writes its counters there and a scrape answered by any worker sums them all.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from typing import Final

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

from bedside.audit.entry import MINOR_FAILURE, SUCCESS, AuditEntry
from bedside.logs import path_template
from bedside.protocol.results import CODES, CONFLICT, IMPLAUSIBLE_TIME

__all__ = ["CONTENT_TYPE", "MULTIPROC_ENV", "Metrics", "route_label"]

#: The variable prometheus-client reads, at import, to write values to files (multiprocess).
MULTIPROC_ENV: Final = "PROMETHEUS_MULTIPROC_DIR"
CONTENT_TYPE: Final = "text/plain; version=0.0.4; charset=utf-8"

_INTERACTIONS: Final = frozenset(
    {
        "read",
        "vread",
        "search-type",
        "history-instance",
        "history-type",
        "create",
        "update",
        "patch",
        "delete",
        "operation",
    }
)
_BASES: Final = frozenset(
    {"care-team", "location", "assignment", "consent", "break-glass", "self", "service", "none"}
)
_GRANT_TYPES: Final = frozenset({"authorization_code", "refresh_token", "client_credentials"})
_OAUTH_ERRORS: Final = frozenset(
    {
        "invalid_request",
        "invalid_client",
        "invalid_grant",
        "unauthorized_client",
        "unsupported_grant_type",
        "invalid_scope",
        "access_denied",
        "server_error",
        "temporarily_unavailable",
    }
)
_RESULTS: Final = frozenset(
    {"confirmed", "merged", "needs-review", "rejected", "deferred", "replayed"}
)
_REASONS: Final = frozenset({*CODES, CONFLICT, IMPLAUSIBLE_TIME, ""})
_CONSENT_STATUSES: Final = frozenset(
    {"draft", "proposed", "active", "rejected", "inactive", "entered-in-error"}
)
_METHODS: Final = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
_MAX_SEGMENTS: Final = 6  # /fhir/Patient/{id}/_history/{vid} is 5; deeper is "other"
#: Seconds: a request, a push, a pull, from a few milliseconds to a minute.
_LATENCY: Final = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
_COMMIT: Final = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0)


def _one_of(value: str | None, allowed: frozenset[str]) -> str:
    return value if value is not None and value in allowed else "other"


def _outcome(code: str) -> str:
    """AuditEvent.outcome in words: allowed, refused (4: denied, bad request) or error (8)."""
    return {SUCCESS: "allowed", MINOR_FAILURE: "refused"}.get(code, "error")


def route_label(path: str, params: Mapping[str, object] | None) -> str:
    """The route template a request took: ``/review/{item_id}/resolve``; FHIR paths by
    :func:`bedside.logs.path_template` (``/fhir/Patient/{id}``); ``unmatched`` when no route
    took it (``params`` None), so a client sending random paths cannot make new series."""
    if params is None:
        return "unmatched"
    if path == "/fhir" or path.startswith("/fhir/"):
        template = path_template(path)
        return template if template.count("/") <= _MAX_SEGMENTS else "/fhir/other"
    values = {str(v): k for k, v in params.items()}
    # a matched route's other segments are its own literal text
    return "/".join(f"{{{values[seg]}}}" if seg in values else seg for seg in path.split("/"))


class Metrics:
    """The instruments and the registry a scrape reads.

    ``state`` collectors (read at scrape time) are added with :meth:`add_collector`. With
    ``PROMETHEUS_MULTIPROC_DIR`` set, values go to that directory and a scrape sums every
    process's; otherwise they live in this process only.
    """

    def __init__(self) -> None:
        self.multiprocess_dir = os.environ.get(MULTIPROC_ENV) or None
        # In multiprocess mode the instruments write files and a scrape reads the files, so
        # they must not also be registered where the scrape reads (they would count twice).
        self.registry = CollectorRegistry(auto_describe=True)
        own = None if self.multiprocess_dir else self.registry
        if self.multiprocess_dir:
            MultiProcessCollector(self.registry, path=self.multiprocess_dir)  # type: ignore[no-untyped-call]
        self.http_requests = Counter(
            "bedside_http_requests",
            "HTTP requests answered, by route template, method and status.",
            ["route", "method", "status"],
            registry=own,
        )
        self.http_seconds = Histogram(
            "bedside_http_request_duration_seconds",
            "Time to answer an HTTP request, by route template.",
            ["route"],
            buckets=_LATENCY,
            registry=own,
        )
        self.sync_seconds = Histogram(
            "bedside_sync_duration_seconds",
            "Time to answer a sync push or pull (direction), whatever the answer.",
            ["direction"],
            buckets=_LATENCY,
            registry=own,
        )
        self.fhir = Counter(
            "bedside_fhir_interactions",
            "FHIR interactions audited, by interaction and outcome (allowed, refused, error);"
            " includes the writes sync applies.",
            ["interaction", "outcome"],
            registry=own,
        )
        self.access = Counter(
            "bedside_access_decisions",
            "Access decisions about patients' records, by basis and outcome.",
            ["basis", "outcome"],
            registry=own,
        )
        self.consent_denials = Counter(
            "bedside_consent_denials",
            "Requests refused because a patient's consent withholds the data.",
            registry=own,
        )
        self.consent_changes = Counter(
            "bedside_consent_changes",
            "Consents whose status changed, by the status they took (inactive: revoked).",
            ["status"],
            registry=own,
        )
        self.break_glass = Counter(
            "bedside_break_glass_grants", "Break-glass grants started.", registry=own
        )
        self.sign_ins = Counter(
            "bedside_sign_ins",
            "Password sign-ins at the authorization server, by outcome.",
            ["outcome"],
            registry=own,
        )
        self.tokens = Counter(
            "bedside_token_requests",
            "Token endpoint requests by grant type and outcome (issued, or the OAuth error code).",
            ["grant_type", "outcome"],
            registry=own,
        )
        self.pushes = Counter(
            "bedside_sync_pushes",
            "Sync pushes: answered (accepted) or refused as a whole, by HTTP status.",
            ["outcome"],
            registry=own,
        )
        self.sync_events = Counter(
            "bedside_sync_events",
            "Pushed events by result (confirmed, merged, needs-review, rejected, deferred,"
            " replayed) and reason code.",
            ["result", "reason"],
            registry=own,
        )
        self.audit_commit = Histogram(
            "bedside_audit_commit_duration_seconds",
            "Time for an audit submission to be committed (the group commit, as waited on).",
            buckets=_COMMIT,
            registry=own,
        )

    def add_collector(self, collector: Collector) -> None:
        """A collector read at each scrape (database state: queues, devices, pool)."""
        self.registry.register(collector)

    def render(self) -> bytes:
        """The Prometheus text exposition of everything."""
        return generate_latest(self.registry)

    # --- seams ---------------------------------------------------------------------------------

    def request(
        self,
        path: str,
        method: str,
        status: int,
        seconds: float,
        params: Mapping[str, object] | None,
    ) -> None:
        """One HTTP request, from the access log middleware (``params``: the matched route's
        path parameters; None when no route matched)."""
        route = route_label(path, params)
        self.http_requests.labels(route, _one_of(method, _METHODS), str(status)).inc()
        self.http_seconds.labels(route).observe(seconds)
        if route in ("/sync/push", "/sync/pull"):
            self.sync_seconds.labels(route.rsplit("/", 1)[1]).observe(seconds)

    def audited(self, entries: Iterable[AuditEntry]) -> None:
        """Entries the auditor has just made durable (or chained into a write)."""
        for e in entries:
            outcome = _outcome(e.outcome)
            if e.subtype in _INTERACTIONS:
                self.fhir.labels(e.subtype, outcome).inc()
            if e.basis is not None and e.subtype != "consent":  # its write's entry counts
                self.access.labels(_one_of(e.basis, _BASES), outcome).inc()
                if e.basis == "consent" and e.outcome != SUCCESS:
                    self.consent_denials.inc()
            if e.subtype == "login":
                self.sign_ins.labels("success" if e.outcome == SUCCESS else "refused").inc()
            elif e.subtype == "break-glass" and e.outcome == SUCCESS:
                self.break_glass.inc()
            elif e.subtype == "consent" and e.outcome == SUCCESS:
                # the entry's description is "consent <before> -> <after>" (rest/writes.py)
                after = (e.description or "").rpartition("-> ")[2]
                self.consent_changes.labels(_one_of(after, _CONSENT_STATUSES)).inc()

    def audit_committed(self, seconds: float) -> None:
        self.audit_commit.observe(seconds)

    def token(self, grant_type: str | None, error: str | None) -> None:
        """One token endpoint request: ``error`` is the OAuth error code, None if issued."""
        outcome = "issued" if error is None else _one_of(error, _OAUTH_ERRORS)
        self.tokens.labels(_one_of(grant_type, _GRANT_TYPES), outcome).inc()

    def push(self, tally: Mapping[tuple[str, str], int] | None, status: int = 200) -> None:
        """One sync push: its events' results, or None when it was refused with ``status``."""
        if tally is None:
            self.pushes.labels(str(status)).inc()
            return
        self.pushes.labels("accepted").inc()
        for (result, reason), n in tally.items():
            self.sync_events.labels(_one_of(result, _RESULTS), _one_of(reason, _REASONS)).inc(n)
