"""Framework-free request and response values of the FHIR REST API."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["FhirRequest", "FhirResponse"]


@dataclass(frozen=True)
class FhirRequest:
    """One FHIR interaction, as the HTTP layer or a Bundle entry describes it."""

    method: str
    path: str  # relative to the FHIR base, e.g. "Patient/1/_history/2"; "" for the base
    query: tuple[tuple[str, str], ...] = ()
    body: Any = None
    if_match: str | None = None
    if_none_exist: str | None = None
    if_none_match: str | None = None
    if_modified_since: str | None = None
    prefer_return: str | None = None  # minimal | representation | OperationOutcome
    lenient: bool = False
    prefer_async: bool = False  # Prefer: respond-async (Bulk Data kick-off)
    content_type: str | None = None


@dataclass
class FhirResponse:
    status: int
    resource: dict[str, Any] | None = None
    location: str | None = None
    version: int | None = None
    last_modified: str | None = None
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def etag(self) -> str | None:
        return f'W/"{self.version}"' if self.version is not None else None
