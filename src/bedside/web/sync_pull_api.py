"""HTTP for ``GET /sync/pull`` (docs/sync-protocol.md "Pull", docs/sync-pull.md).

This module authenticates, checks the protocol version and the device, audits, and turns
results into HTTP (errors become HTTP at :mod:`bedside.web.errors`); the work is
:class:`bedside.sync.pull.Puller`. The order of checks: a bearer token (401), then a token
naming a device of its user (403), then the device's status (revoked 403, flagged for wipe
410, each with the device API's status issue; :class:`~bedside.fleet.device_auth.DeviceAuth`,
as for push), then ``protocol`` (400 saying which versions the server speaks), then ``limit``
and ``since`` (400).

Like a search, every pull is audited (``sync-pull``, naming the device). What a patient entering
the working set is sent (all of a first sync) is one access to that patient's record: one entry
per patient per page, naming the patient and counting the resources, never thousands of
entities. Everything else a page sends (changes, deletes, purges, review outcomes) is one entry
naming the patients and every version sent. A refused pull is audited too.
"""

from __future__ import annotations

import dataclasses
import time
from typing import Final

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bedside.audit.entry import MINOR_FAILURE, SERIOUS_FAILURE
from bedside.auth.server import AuthServer
from bedside.errors import FhirError, InvalidRequest
from bedside.fleet.device_auth import DeviceAuth
from bedside.metrics import daily
from bedside.numerals import is_number
from bedside.policy.decide import Policy
from bedside.protocol import MAX_LIMIT, PROTOCOL
from bedside.rest.trail import Trail
from bedside.store.base import Store
from bedside.sync.pull import Puller, PullPage
from bedside.web import responses
from bedside.web.fhir_http import bearer_token

__all__ = ["SUBTYPE", "SyncPullApi"]

SUBTYPE: Final = "sync-pull"


class SyncPullApi:
    def __init__(self, store: Store, auth: AuthServer, policy: Policy) -> None:
        self.store = store
        self.auth = auth
        self.policy = policy
        self.devices = DeviceAuth(store, auth)
        self.puller = Puller(store, policy, auth.keyring.current, issuer=auth.config.fhir_base)

    def routes(self) -> list[Route]:
        return [Route("/sync/pull", self.pull, methods=["GET"])]

    async def pull(self, request: Request) -> Response:
        params = request.query_params
        network = request.client.host if request.client else None
        caller = await run_in_threadpool(self.devices.caller, bearer_token(request))

        def work() -> Response:
            started = time.perf_counter()
            trail = Trail(caller, self.policy.clock, network)
            try:
                device = self.devices.active_device(caller).device_id
                _protocol(params.get("protocol"))
                limit = _limit(params.get("limit"))
                page = self.puller.page(caller, device, params.get("since") or None, limit)
            except FhirError as exc:
                trail.failure(SUBTYPE, None, exc, description=f"sync pull refused ({exc.status})")
                self._audit(trail)
                raise
            self._audit(trail, page)
            elapsed = round((time.perf_counter() - started) * 1000)
            daily.keep(self.store, "pull-ms", elapsed, self.policy.clock())
            return responses.json(200, page.body())

        return await run_in_threadpool(work)

    # --- audit -------------------------------------------------------------------------------

    def _audit(self, trail: Trail, page: PullPage | None = None) -> None:
        """The page's entries (a refusal's entry is already in ``trail``)."""
        if page is not None:
            trail.view = page.view
            for patient, count in sorted(page.backfill_patients.items()):
                trail.note(
                    SUBTYPE,
                    patients=[patient],  # the entry names the patient
                    description=f"sync pull: {count} resources of the record sent"
                    " (joining the device's working set)",
                )
            if (
                not page.backfill_patients
                or page.resources
                or page.deleted
                or page.purge
                or page.reviews
            ):
                trail.note(
                    SUBTYPE,
                    resources=page.resources,
                    patients=page.tombstone_patients,
                    entities=[
                        f"{d['type']}/{d['id']}/_history/{d['version']}" for d in page.deleted
                    ],
                    description=f"sync pull: {len(page.resources)} sent, {len(page.deleted)}"
                    f" deleted, {len(page.purge)} purged, {len(page.reviews)} review outcomes",
                )
        entries = [
            # the user receives data: BALP "R", as for a read or search
            dataclasses.replace(e, action="R") if e.outcome not in _FAILED else e
            for e in trail.entries
        ]
        trail.entries = []
        self.auth.auditor.submit(entries)


_FAILED: Final = frozenset({MINOR_FAILURE, SERIOUS_FAILURE})


def _protocol(value: str | None) -> None:
    if value != str(PROTOCOL):
        raise InvalidRequest(
            f"This server speaks sync protocol version {PROTOCOL}: send ?protocol={PROTOCOL}.",
            code="not-supported",
        )


def _limit(value: str | None) -> int:
    if value is None or value == "":
        return MAX_LIMIT
    if not is_number(value) or not 1 <= int(value) <= MAX_LIMIT:
        raise InvalidRequest(f"limit must be a whole number from 1 to {MAX_LIMIT}.")
    return int(value)
