"""Bedside's one error hierarchy.

Only the HTTP layer turns these into status codes and OperationOutcome resources; everything
below it raises them. Messages must never echo PHI the caller did not send.

    BedsideError
    ├── ConfigurationError           bad settings or a data dir we cannot use
    ├── StoreError                   the database failed in a way the caller cannot fix
    ├── AdminError                   an admin command cannot be done as asked (CLI message)
    ├── OAuthError                   an OAuth 2.0 endpoint refused (RFC 6749 §5.2 error codes)
    ├── CsrfRefused                  a browser change without its session's CSRF token (403)
    └── FhirError                    a FHIR interaction refused; carries status + issues
        ├── InvalidRequest           400  malformed request, unknown search parameter
        ├── Unauthorized             401  no or bad bearer token
        ├── Forbidden                403  token lacks the scope
        ├── NotFound                 404  no such resource (or not visible to the caller)
        ├── MethodNotAllowed         405
        ├── Conflict                 409  e.g. a conditional create matched several resources
        ├── Gone                     410  the resource was deleted
        ├── PreconditionFailed       412  If-Match / conditional-operation precondition
        ├── UnsupportedMediaType     415
        └── Unprocessable            422  valid FHIR that breaks a business rule
            └── ClinicalRuleBroken   422  a clinical rule the server rechecks does not hold
                                          (a NEWS2 total that does not match its parameters)
"""

from __future__ import annotations

from dataclasses import dataclass, field


class BedsideError(Exception):
    """Base of every error Bedside raises on purpose."""


class ConfigurationError(BedsideError):
    """Settings or the data dir cannot be used as given."""


class StoreError(BedsideError):
    """The database failed (connection, schema) in a way the caller cannot fix."""


class AdminError(BedsideError):
    """An administrative change (user, client, key) cannot be made as asked."""


class OAuthError(BedsideError):
    """An OAuth 2.0 error response: ``error`` is one of RFC 6749's codes, ``status`` 400 or 401.

    ``description`` goes to the client verbatim, so it must never contain a secret or PHI.
    """

    def __init__(
        self,
        error: str,
        description: str,
        *,
        status: int = 400,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(description)
        self.error = error
        self.description = description
        self.status = status
        self.headers = dict(headers or {})

    def body(self) -> dict[str, str]:
        return {"error": self.error, "error_description": self.description}


@dataclass(frozen=True)
class Issue:
    """One OperationOutcome.issue: severity, code (IssueType), text, and FHIRPath locations."""

    code: str
    diagnostics: str
    severity: str = "error"
    expression: tuple[str, ...] = field(default_factory=tuple)

    def to_fhir(self) -> dict[str, object]:
        issue: dict[str, object] = {
            "severity": self.severity,
            "code": self.code,
            "diagnostics": self.diagnostics,
        }
        if self.expression:
            issue["expression"] = list(self.expression)
        return issue


class CsrfRefused(BedsideError):
    """A change from a browser session that lacks the session's CSRF token or came from
    another origin. The message is one plain sentence for the page."""


class FhirError(BedsideError):
    """A refused FHIR interaction. ``status`` is the HTTP status the API answers with."""

    status = 500
    default_code = "exception"

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        expression: tuple[str, ...] = (),
        issues: tuple[Issue, ...] = (),
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.headers = dict(headers or {})
        self.issues = issues or (Issue(code or self.default_code, message, expression=expression),)


class InvalidRequest(FhirError):
    status = 400
    default_code = "invalid"


class Unauthorized(FhirError):
    status = 401
    default_code = "login"


class Forbidden(FhirError):
    status = 403
    default_code = "forbidden"


class NotFound(FhirError):
    status = 404
    default_code = "not-found"


class MethodNotAllowed(FhirError):
    status = 405
    default_code = "not-supported"


class Conflict(FhirError):
    status = 409
    default_code = "conflict"


class Gone(FhirError):
    status = 410
    default_code = "deleted"


class PreconditionFailed(FhirError):
    status = 412
    default_code = "conflict"


class UnsupportedMediaType(FhirError):
    status = 415
    default_code = "not-supported"


class Unprocessable(FhirError):
    status = 422
    default_code = "business-rule"


class ClinicalRuleBroken(Unprocessable):
    """A clinical rule rechecked at every write (brief G3) does not hold: a NEWS2 total that
    does not match the Observations it is derived from (docs/news2.md). Sync rejects the event
    with the code ``clinical-rule``; the REST API answers 422."""
