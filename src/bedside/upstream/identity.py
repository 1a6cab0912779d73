"""Deterministic local ids for upstream records, so a replay, a retry or the next message of a
visit lands on the same resource (an A01 and its A03 update one Encounter).

Every id is a UUID version 5 (RFC 9562 §5.5) of a name that says where the record came from:
the source's system URI and the source's own identifier. Patients are the exception that makes
matching work: a Patient's id comes from its identifier (system and value) alone, so two
sources that share an identifier system (a hospital's MRN) land on one Patient. That is the
whole matching rule: identifiers only, never names or birth dates (no fuzzy auto-merge).
"""

from __future__ import annotations

import uuid
from typing import Final

__all__ = [
    "NAMESPACE",
    "patient_id",
    "provenance_id",
    "record_id",
]

#: The namespace of every upstream id (a fixed random UUID; changing it re-keys every record).
NAMESPACE: Final = uuid.UUID("5b0f3c8e-2f55-4d6e-9a43-2a1c8f3d7e10")


def record_id(system: str, rtype: str, key: str) -> str:
    """The id of the ``rtype`` the source ``system`` knows as ``key``."""
    return str(uuid.uuid5(NAMESPACE, f"{system}|{rtype}|{key}"))


def patient_id(identifier_system: str, value: str) -> str:
    """The id of the Patient with this identifier, whichever source sent it."""
    return str(uuid.uuid5(NAMESPACE, f"Patient|{identifier_system}|{value}"))


def provenance_id(target: str, entity: str) -> str:
    """The Provenance of one version written from one source entity (a retry reuses it)."""
    return str(uuid.uuid5(NAMESPACE, f"Provenance|{target}|{entity}"))
