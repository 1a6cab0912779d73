"""OperationOutcome values (FHIR R4 operationoutcome.html)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from bedside.errors import Issue

__all__ = ["information", "operation_outcome"]


def operation_outcome(issues: Iterable[Issue]) -> dict[str, Any]:
    """Build an OperationOutcome resource from issues."""
    return {"resourceType": "OperationOutcome", "issue": [i.to_fhir() for i in issues]}


def information(text: str) -> dict[str, Any]:
    """An informational OperationOutcome, e.g. the body of a successful delete."""
    return operation_outcome([Issue("informational", text, severity="information")])
