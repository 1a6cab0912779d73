"""The server's CapabilityStatement (capabilitystatement.html), built from what is implemented.

Every resource type, interaction and search parameter listed here is served; the statement is
derived from the same registry the search code uses, so it cannot claim more than exists.
"""

from __future__ import annotations

from typing import Any

import bedside
from bedside.fhir.resource_types import NOT_STORED, RESOURCE_TYPES
from bedside.fhir.search.definition_urls import DEFINITIONS, PREFIX
from bedside.fhir.search.query import RESULT_PARAMETERS
from bedside.fhir.search.registry import params_for
from bedside.rest.operations import OPERATIONS
from bedside.subscriptions.service import capability_entry

__all__ = ["capability_statement"]

_INTERACTIONS = (
    "read",
    "vread",
    "update",
    "patch",
    "delete",
    "history-instance",
    "history-type",
    "create",
    "search-type",
)
_INTERNAL_PARAMETERS = frozenset({"_cursor", "_format", "_pretty"})
_PARAM_DOCS = {
    "_id": "Logical id of the resource",
    "_lastUpdated": "When the resource version last changed",
}


_OAUTH_URIS = "http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris"


def _security(oauth: dict[str, str] | None) -> dict[str, Any]:
    """rest.security: SMART-on-FHIR service and, for older clients, the oauth-uris extension."""
    if not oauth:
        return {
            "cors": True,
            "description": "Every request except /metadata needs a bearer token "
            "signed by this server (see docs/api.md).",
        }
    return {
        "cors": True,
        "service": [
            {
                "coding": [
                    {
                        "system": "http://terminology.hl7.org/CodeSystem/restful-security-service",
                        "code": "SMART-on-FHIR",
                    }
                ],
                "text": "OAuth2 using SMART-on-FHIR profile (see http://docs.smarthealthit.org)",
            }
        ],
        "extension": [
            {
                "url": _OAUTH_URIS,
                "extension": [{"url": k, "valueUri": v} for k, v in oauth.items()],
            }
        ],
        "description": "SMART App Launch 2.x: see .well-known/smart-configuration. Every "
        "request except /metadata needs a bearer token issued by this server.",
    }


def capability_statement(
    base: str, released: str, oauth: dict[str, str] | None = None
) -> dict[str, Any]:
    """The CapabilityStatement; ``oauth`` maps authorize/token/revoke/... to endpoint URLs."""
    resources = []
    for rtype in sorted(RESOURCE_TYPES - NOT_STORED):
        params = params_for(rtype)
        refs = sorted(p.code for p in params.values() if p.kind == "reference")
        resources.append(
            {
                "type": rtype,
                "interaction": [{"code": c} for c in _INTERACTIONS],
                "versioning": "versioned-update",
                "readHistory": True,
                "updateCreate": True,
                "conditionalCreate": True,
                "conditionalUpdate": True,
                "conditionalDelete": "single",
                "searchInclude": [f"{rtype}:{c}" for c in refs],
                "searchRevInclude": sorted(
                    f"{src}:{code}"
                    for src in sorted(RESOURCE_TYPES - NOT_STORED)
                    for code, p in params_for(src).items()
                    if p.kind == "reference" and _may_point_at(p.paths, rtype)
                )
                if rtype in _REVINCLUDE_TARGETS
                else [],
                "searchParam": [
                    {
                        "name": code,
                        **_definition(rtype, code),
                        "type": "token" if code == "_id" else p.kind,
                        **({"documentation": _PARAM_DOCS[code]} if code in _PARAM_DOCS else {}),
                    }
                    for code, p in sorted(params.items())
                ],
                **_operations(rtype),
            }
        )
    # Subscriptions are served by their own service (docs/subscriptions.md), not as stored data
    resources = [capability_entry() if r["type"] == "Subscription" else r for r in resources]
    return {
        "resourceType": "CapabilityStatement",
        "status": "active",
        "date": released,
        "kind": "instance",
        "software": {"name": "Bedside", "version": bedside.__version__},
        "implementation": {"description": "Bedside FHIR R4 server", "url": base},
        "fhirVersion": "4.0.1",
        "format": ["json", "application/fhir+json"],
        "patchFormat": [
            "application/json-patch+json",
            "application/merge-patch+json",
            "application/fhir+json",
        ],
        "rest": [
            {
                "mode": "server",
                "security": _security(oauth),
                "resource": resources,
                "interaction": [
                    {"code": "transaction"},
                    {"code": "batch"},
                    {"code": "history-system"},
                ],
                "operation": [
                    {"name": name, "definition": url}
                    for name, level, url in OPERATIONS
                    if level == "system"
                ],
                "searchParam": [
                    {"name": n, "type": "number" if n == "_count" else "string"}
                    for n in sorted(RESULT_PARAMETERS - _INTERNAL_PARAMETERS)
                ],
            }
        ],
    }


def _definition(rtype: str, code: str) -> dict[str, str]:
    """``definition``: the R4 SearchParameter the parameter implements, when it is one."""
    for owner in (rtype, "DomainResource", "Resource"):
        found = DEFINITIONS.get(owner, {}).get(code)
        if found is not None:
            return {"definition": PREFIX + found}
    return {}


def _operations(rtype: str) -> dict[str, Any]:
    """rest.resource.operation: each operation served on the type, with its definition."""
    by_name = {  # one entry per operation, however many levels serve it ($everything: two)
        name: {"name": name, "definition": url}
        for name, level, url in OPERATIONS
        if (level in ("instance", "type") and rtype == "Patient")
        or (level == "group" and rtype == "Group")
    }
    ops = list(by_name.values())
    return {"operation": ops} if ops else {}


# _revinclude lists are long; compute them for the types clients commonly revinclude on.
_REVINCLUDE_TARGETS = frozenset({"Patient", "Encounter", "Practitioner", "Organization"})


def _may_point_at(paths: Any, rtype: str) -> bool:
    return all(p.target_types is None or rtype in p.target_types for p in paths)
