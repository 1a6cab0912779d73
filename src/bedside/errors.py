"""Bedside's one error hierarchy: every exception Bedside raises on purpose is a BedsideError.

Only the HTTP layer (``bedside.web.errors``, the one error boundary) turns these into status
codes and bodies; everything below it raises them, and domain code branches on their types,
never on an HTTP status. Messages must never echo PHI the caller did not send. This module is a
leaf: it imports nothing from Bedside. Classes marked with a module live there (they need its
context) but subclass a class of this module.

    BedsideError
    ├── ConfigurationError           bad settings or a data dir we cannot use
    │   └── UpstreamError            upstream.toml cannot be used (bedside.upstream.config)
    ├── PolicyError                  the policy file is malformed; the message says where
    ├── StoreError                   the database failed in a way the caller cannot fix
    ├── AdminError                   an admin command cannot be done as asked (CLI message)
    ├── OAuthError                   an OAuth 2.0 endpoint refused (RFC 6749 §5.2 error codes)
    ├── RedirectError                an authorization error sent back to the client's redirect
    │                                URI (RFC 6749 §4.1.2.1; bedside.auth.server)
    ├── SignInFailed                 wrong username or password, or a locked account
    │                                (bedside.auth.users)
    ├── CsrfRefused                  a browser change without its session's CSRF token (403)
    ├── EventError                   a device's signed event is malformed (sync: per-event result)
    │   └── SignatureError           its signature is missing or does not match its content
    ├── MessageError                 an HL7 v2 message cannot be used (bedside.upstream.hl7_message)
    ├── AmbiguousPatient             a source identifier matches several local Patients
    │                                (bedside.upstream.canonical)
    ├── FrameTooLarge                an MLLP frame past the size limit (bedside.upstream.mllp)
    ├── DeviceError                  the device node cannot do what was asked: a sentence for
    │   │                            the person holding it (bedside.device.errors)
    │   ├── NotEnrolled              no key file yet: the device has not been set up
    │   ├── WrongPin                 the PIN did not open the keys; carries ``attempts_left``
    │   ├── KeysLocked               no PIN can open the keys; an online sign-in must
    │   ├── KeystoreUnavailable      the OS key store holding the device secret cannot be reached
    │   ├── AttachmentError          an attachment is missing, or damaged and refused
    │   ├── Locked                   the device is locked: the PIN opens it again
    │   ├── Refused                  the offline policy does not allow this read or write
    │   └── ClockSkew                the device's clock is too far from the server's
    │                                (bedside.device.clock)
    └── FhirError                    a FHIR interaction refused; carries status + issues
        ├── InvalidRequest           400  malformed request, unknown search parameter
        ├── Unauthorized             401  no or bad bearer token
        ├── Forbidden                403  token lacks the scope
        ├── NotFound                 404  no such resource (or not visible to the caller)
        ├── MethodNotAllowed         405
        ├── NotAcceptable            406  a format this server does not serve (XML)
        ├── Conflict                 409  e.g. a conditional create matched several resources
        ├── Gone                     410  the resource was deleted
        ├── PreconditionFailed       412  If-Match / conditional-operation precondition
        ├── PayloadTooLarge          413  a request body past its path's limit
        │                                 (bedside.web.body_limit)
        ├── UnsupportedMediaType     415
        └── Unprocessable            422  valid FHIR that breaks a business rule
            └── ClinicalRuleBroken   422  a clinical rule the server rechecks does not hold
                                          (a NEWS2 total that does not match its parameters)
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = [
    "AdminError",
    "BedsideError",
    "ClinicalRuleBroken",
    "ConfigurationError",
    "Conflict",
    "CsrfRefused",
    "EventError",
    "FhirError",
    "Forbidden",
    "Gone",
    "InvalidRequest",
    "Issue",
    "MethodNotAllowed",
    "NotAcceptable",
    "NotFound",
    "OAuthError",
    "PolicyError",
    "PreconditionFailed",
    "SignatureError",
    "StoreError",
    "Unauthorized",
    "Unprocessable",
    "UnsupportedMediaType",
]


class BedsideError(Exception):
    """Base of every error Bedside raises on purpose."""


class ConfigurationError(BedsideError):
    """Settings or the data dir cannot be used as given."""


class PolicyError(BedsideError):
    """The policy file is malformed; the message says where."""


class EventError(BedsideError):
    """An event is malformed or its signature does not verify; the message says which field."""


class SignatureError(EventError):
    """The event has no signature, or its signature does not match its content."""


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


class NotAcceptable(FhirError):
    status = 406
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
