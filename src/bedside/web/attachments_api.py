"""HTTP for attachments (docs/sync-protocol.md "Attachments", docs/sync-server.md)::

    PUT /sync/attachments/{id}?protocol=1&document=<DocumentReference id>
                            a device uploads the bytes its confirmed signed record refers to
    GET /fhir/Binary/{id}   the bytes, to a caller who may read the referencing record

An upload needs the device's own token (an active device of its user), an event of *this*
device that the server confirmed creating or changing the document, the policy's leave to
read that document now (G3: the same check as any read, so a patient who left the working
set since is refused), and bytes whose size and SHA-256 are those the signed record states.
It is kept once: a retry after a lost answer gets ``200`` and the same body as the first
``201``, and nothing is stored twice. Past :data:`~bedside.protocol.attachments.MAX_BYTES` the
answer is ``413`` with a sentence, before the body is read.

A read goes through the referencing DocumentReference, read as the caller through the
Repository (policy, consent, audit): refused there is ``403`` here; an id that is not an
uploaded attachment is left to the FHIR API (a stored Binary resource, or its 404). Every
answer carries ``Cache-Control: no-store``; the bytes are served under a sandboxing CSP and
``nosniff``, so an uploaded file can never run as a page of the server's origin.

The checks, the keeping and the audit are :class:`bedside.sync.attachment_service.Uploads`,
bound to the caller; this module parses the request and answers.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Awaitable, Callable
from typing import Final

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bedside.audit.entry import Auditor
from bedside.auth.caller import Caller
from bedside.auth.server import AuthServer
from bedside.errors import FhirError, InvalidRequest
from bedside.fleet.device_auth import DeviceAuth
from bedside.policy.decide import Policy
from bedside.protocol import PROTOCOLS, unsupported_protocol
from bedside.protocol import attachments as wire
from bedside.store.base import Store
from bedside.sync.attachment_service import Uploads, find
from bedside.web import responses
from bedside.web.fhir_http import bearer_token

__all__ = ["AttachmentsApi"]

_RAW: Final = {
    **responses.NO_STORE,
    "Content-Security-Policy": "default-src 'none'; sandbox",
    "X-Content-Type-Options": "nosniff",
    "Content-Disposition": "inline",
}
_DOC_ID: Final = re.compile(r"^[A-Za-z0-9\-.]{1,64}$")
_SETTLED: Final = ("confirmed", "merged")
_NOT_YET: Final = (
    "The record this attachment belongs to has not been accepted from this device yet; "
    "send the record first."
)


class _TooLarge(FhirError):
    status = 413
    default_code = "too-costly"


class AttachmentsApi:
    def __init__(
        self,
        store: Store,
        auth: AuthServer,
        policy: Policy,
        auditor: Auditor,
        fallback: Callable[[Request], Awaitable[Response]],
    ) -> None:
        self.store = store
        self.auth = auth
        self.policy = policy
        self.auditor = auditor
        self.devices = DeviceAuth(store, auth)
        self.base = auth.config.fhir_base
        self.fallback = fallback  # the FHIR API, for a Binary that is not an attachment

    def routes(self) -> list[Route]:
        return [
            Route("/sync/attachments/{aid}", self.upload, methods=["PUT"]),
            Route("/fhir/Binary/{aid}", self.read, methods=["GET"]),
        ]

    # --- upload ----------------------------------------------------------------------------

    async def upload(self, request: Request) -> Response:
        aid = request.path_params["aid"]
        params = request.query_params
        network = request.client.host if request.client else None
        # authenticate, and refuse an oversized body, before reading it
        caller = await run_in_threadpool(self.devices.caller, bearer_token(request))
        if params.get("protocol") not in {str(v) for v in PROTOCOLS}:
            raise unsupported_protocol()
        document = params.get("document") or ""
        if not wire.ATTACHMENT_ID.match(aid) or not _DOC_ID.match(document):
            raise InvalidRequest("Name the attachment and the DocumentReference it is for.")
        length = request.headers.get("content-length", "")
        if length.isdigit() and int(length) > wire.MAX_BYTES:
            raise _too_large()
        data = await request.body()
        if len(data) > wire.MAX_BYTES:
            raise _too_large()
        return await run_in_threadpool(self._keep, caller, aid, document, data, network)

    def _keep(
        self, caller: Caller, aid: str, document: str, data: bytes, network: str | None
    ) -> Response:
        kept = self._uploads(caller, network).keep(aid, document, data)
        body = {
            "id": kept.id,
            "document": kept.document,
            "size": kept.size,
            "sha256": kept.sha256,
            "state": "stored",
        }
        return responses.json(201 if kept.new else 200, body)

    # --- read ------------------------------------------------------------------------------

    async def read(self, request: Request) -> Response:
        aid = request.path_params["aid"]
        if not wire.ATTACHMENT_ID.match(aid):
            return await self._fallback(request, aid)
        kept = await run_in_threadpool(find, self.store, aid)
        if kept is None:
            return await self._fallback(request, aid)
        network = request.client.host if request.client else None
        caller = await run_in_threadpool(self.auth.caller, bearer_token(request))
        wants_fhir = "json" in request.headers.get("accept", "")
        data = await run_in_threadpool(self._uploads(caller, network).read, kept)
        if not wants_fhir:
            return Response(data, media_type=kept.content_type, headers=_RAW)
        binary = {
            "resourceType": "Binary",
            "id": kept.id,
            "contentType": kept.content_type,
            "securityContext": {"reference": f"DocumentReference/{kept.document_id}"},
            "data": base64.b64encode(data).decode("ascii"),
        }
        return responses.json(200, binary, media="application/fhir+json")

    # --- plumbing --------------------------------------------------------------------------

    def _uploads(self, caller: Caller, network: str | None) -> Uploads:
        return Uploads(
            self.store,
            self.policy,
            self.auditor,
            caller,
            self.base,
            devices=self.devices,
            network=network,
        )

    async def _fallback(self, request: Request, aid: str) -> Response:
        """The FHIR API's answer for ``Binary/{aid}``, as if its own route had matched."""
        request.scope["path_params"] = {"path": f"Binary/{aid}"}
        return await self.fallback(request)


def _too_large() -> FhirError:
    most = wire.MAX_BYTES // (1024 * 1024)
    return _TooLarge(f"An attachment may have at most {most} MB; this one was not kept.")
