"""The FHIR RESTful API (http.html) without the web framework.

A :class:`FhirRequest` goes in, a :class:`FhirResponse` comes out; ``web/`` maps both to HTTP.
Every interaction runs through a :class:`Repository` bound to the caller, so permission checks
happen by construction, not in routes.
"""

from bedside.rest.repository import Repository
from bedside.rest.types import FhirRequest, FhirResponse

__all__ = ["FhirRequest", "FhirResponse", "Repository"]
