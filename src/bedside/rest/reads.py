"""The body and headers of a read or vread: conditional reads and ``_summary``/``_elements``.

http.html#cread: ``If-None-Match`` with the current ETag, or ``If-Modified-Since`` not before
``meta.lastUpdated`` (when no ``If-None-Match`` is sent, RFC 9110 §13.1.3), answers 304 with no
body. search.html#summary and #elements apply to read and vread as to search
(:mod:`bedside.fhir.subset`); ``_summary=count`` means nothing for one resource and is a 400.
A 304 is still a read of the resource, and is audited as one.
"""

from __future__ import annotations

import re
from datetime import datetime
from email.utils import parsedate_to_datetime
from typing import Any, Final

from bedside.errors import InvalidRequest
from bedside.fhir.subset import subset, summary_mode
from bedside.rest.types import FhirRequest
from bedside.store.base import StoredVersion

__all__ = ["READ_PARAMETERS", "not_modified", "shaped"]

READ_PARAMETERS: Final = frozenset({"_summary", "_elements", "_format", "_pretty"})
_ETAG: Final = re.compile(r'\s*(?:W/)?"([^"]*)"\s*')


def shaped(resource: dict[str, Any], req: FhirRequest) -> dict[str, Any]:
    """The resource cut down as ``_summary``/``_elements`` ask; unknown parameters are a 400
    unless ``Prefer: handling=lenient``."""
    params = dict(req.query)
    unknown = set(params) - READ_PARAMETERS
    if unknown and not req.lenient:
        raise InvalidRequest(f"Unknown read parameter(s): {', '.join(sorted(unknown))}.")
    summary = summary_mode(params["_summary"]) if "_summary" in params else None
    if summary == "count":
        raise InvalidRequest("_summary=count applies to searches, not to reading one resource.")
    elements = tuple(e.strip() for e in params.get("_elements", "").split(",") if e.strip())
    return subset(resource, summary=summary, elements=elements)


def not_modified(req: FhirRequest, version: StoredVersion) -> bool:
    """Whether the client's copy is current (http.html#cread), so the answer is 304."""
    if req.if_none_match is not None:
        tags = [t.strip() for t in req.if_none_match.split(",")]
        if "*" in tags:
            return True
        for tag in tags:
            m = _ETAG.fullmatch(tag)
            if m and m.group(1) == str(version.version):
                return True
        return False
    if req.if_modified_since is not None:
        try:
            since = parsedate_to_datetime(req.if_modified_since)
        except (TypeError, ValueError, IndexError):
            return False  # RFC 9110 §13.1.3: an invalid date is ignored
        if since.tzinfo is None:
            return False
        stored = datetime.fromisoformat(version.last_updated.replace("Z", "+00:00"))
        return stored.replace(microsecond=0) <= since
    return False
