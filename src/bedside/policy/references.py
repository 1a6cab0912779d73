"""The ``[references]`` table of the policy file: referential integrity per referenced type.

:class:`ReferenceRules` says, for each type a write may reference, whether a dangling relative
reference is stored as sent or refused (docs/api.md "References"); :func:`parse_references`
reads it from the file (:mod:`bedside.policy.rules` reads the rest).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Final

from bedside.errors import PolicyError
from bedside.fhir.resource_types import is_resource_type

__all__ = ["REFERENCE_MODES", "ReferenceRules", "parse_references", "resource_types"]

#: What a write may do with a reference to one of this server's resources that it cannot read.
REFERENCE_MODES: Final = ("allow", "reject")


@dataclass(frozen=True, slots=True)
class ReferenceRules:
    """``[references]``: referential integrity per referenced type (docs/api.md "References").

    ``reject``: a write whose relative reference to this type names no resource the writer can
    read (missing, deleted, or outside its view: the same answer, so no existence leaks) is
    refused (422). ``allow``: such a dangling reference is stored as sent. The default is
    ``allow``: devices and importers may send a reference before what it names arrives.
    """

    default: str = "allow"
    modes: dict[str, str] = field(default_factory=dict)

    def mode(self, rtype: str) -> str:
        return self.modes.get(rtype, self.default)

    @property
    def checks(self) -> bool:
        return self.default == "reject" or "reject" in self.modes.values()


def parse_references(table: dict[str, Any], source: str) -> ReferenceRules:
    """``[references]``: ``default`` (allow or reject) and lists of types to ``reject`` or
    ``allow`` dangling references to."""
    where = f"In the policy file {source}, [references]"
    unknown = sorted(set(table) - {"default", *REFERENCE_MODES})
    if unknown:
        raise PolicyError(f"{where} has no setting {unknown[0]}.")
    default = table.get("default", "allow")
    if default not in REFERENCE_MODES:
        raise PolicyError(f"{where} default must be allow or reject.")
    modes: dict[str, str] = {}
    for mode in REFERENCE_MODES:
        for rtype in resource_types(table.get(mode, []), f"{where} {mode}"):
            if rtype in modes:
                raise PolicyError(f"{where} lists {rtype} under both allow and reject.")
            modes[rtype] = mode
    return ReferenceRules(default, modes)


def resource_types(value: Any, where: str) -> list[str]:
    """A policy file's list of FHIR R4 resource types; ``where`` names it in the error."""
    if not isinstance(value, list) or not all(isinstance(t, str) for t in value):
        raise PolicyError(f"{where} must be a list of resource types.")
    bad = [t for t in value if not is_resource_type(t)]
    if bad:
        raise PolicyError(f"{where}: {bad[0]} is not a FHIR R4 resource type.")
    return list(value)
