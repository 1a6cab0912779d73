"""The server's shared response helpers: every JSON answer it sends is built here.

Every body the APIs answer may hold PHI or a secret (a resource, a review item, a token, an
escrow key), so every helper sends ``Cache-Control: no-store``. The OAuth endpoints and the
SMART Health Link routes add ``Pragma: no-cache`` (RFC 6749 §5.1). Errors become responses in
:mod:`bedside.web.errors`, with :func:`outcome` and :func:`oauth_error`.
"""

from __future__ import annotations

from typing import Any, Final

import orjson
from starlette.responses import Response

from bedside.errors import FhirError, OAuthError
from bedside.fhir.outcome import operation_outcome

__all__ = [
    "FHIR_JSON",
    "NO_CACHE",
    "NO_STORE",
    "empty",
    "fhir_json",
    "json",
    "oauth_error",
    "oauth_json",
    "outcome",
]

FHIR_JSON: Final = "application/fhir+json; charset=utf-8"
NO_STORE: Final = {"Cache-Control": "no-store"}
NO_CACHE: Final = {**NO_STORE, "Pragma": "no-cache"}


def json(
    status: int,
    body: Any,
    *,
    media: str = "application/json",
    headers: dict[str, str] | None = None,
) -> Response:
    """``body`` as JSON (nothing for ``None``), never cached: ``headers`` (default
    :data:`NO_STORE`) are sent as given."""
    content = orjson.dumps(body) if body is not None else b""
    sent = dict(NO_STORE if headers is None else headers)
    return Response(content, status_code=status, media_type=media, headers=sent)


def empty(status: int = 204, headers: dict[str, str] | None = None) -> Response:
    """An answer with no body and no content type, never cached."""
    return Response(status_code=status, headers=dict(NO_STORE if headers is None else headers))


def fhir_json(
    status: int, body: Any, headers: dict[str, str] | None = None, *, pretty: bool = False
) -> Response:
    """A FHIR JSON answer. Every one may hold PHI (a resource, a search, an OperationOutcome
    about a record), so none may be kept by a browser or a proxy: ``Cache-Control: no-store``."""
    option = orjson.OPT_INDENT_2 if pretty else 0
    content = orjson.dumps(body, option=option) if body is not None else b""
    headers = {**(headers or {}), **NO_STORE}
    return Response(content, status_code=status, headers=headers, media_type=FHIR_JSON)


def outcome(exc: FhirError) -> Response:
    """A refused FHIR interaction (or any API refusal): its status, headers and
    OperationOutcome."""
    return fhir_json(exc.status, operation_outcome(exc.issues), exc.headers)


def oauth_json(status: int, body: Any, headers: dict[str, str] | None = None) -> Response:
    """An OAuth endpoint's JSON answer (RFC 6749 §5.1: no-store and ``Pragma: no-cache``)."""
    return json(status, body, headers={**NO_CACHE, **(headers or {})})


def oauth_error(exc: OAuthError) -> Response:
    """An OAuth endpoint's refusal (RFC 6749 §5.2): ``{"error", "error_description"}``."""
    return oauth_json(exc.status, exc.body(), exc.headers)
