"""What one audited event says, before it becomes an AuditEvent row in the chain.

Every access decision produces :class:`AuditEntry` values: the Repository for reads, searches,
writes and denials; the authorization server for sign-ins and token events; consent changes and
break-glass. An :class:`Auditor` makes them durable: ``append`` inside the caller's own write
transaction (writes are audited in the transaction that stores them), ``submit`` for reads, which
returns only once the entries are committed (batched with other requests' entries).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from bedside.store.base import Records

__all__ = [
    "MINOR_FAILURE",
    "SERIOUS_FAILURE",
    "SUCCESS",
    "Agent",
    "AuditEntry",
    "Auditor",
    "NullAuditor",
]

#: AuditEvent.outcome codes (R4 audit-event-outcome).
SUCCESS = "0"
MINOR_FAILURE = "4"  # refused: denied by policy, bad request
SERIOUS_FAILURE = "8"


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One audited event. Never put PHI in ``description``; the audit store is PHI-safe, logs
    are not, and descriptions may be logged."""

    subtype: str  # FHIR restful interaction (read, vread, search-type, history-instance,
    # history-type, create, update, patch, delete, operation) or a Bedside event: login,
    # login-failed, token-issue, token-refresh, token-revoke, token-reuse, consent, break-glass
    action: str  # C R U D E (AuditEvent.action)
    outcome: str  # SUCCESS, MINOR_FAILURE, SERIOUS_FAILURE
    recorded_ms: int  # UNIX milliseconds
    user_ref: str | None = None  # the agent's fhirUser, e.g. Practitioner/9
    subject: str | None = None  # token sub: user id, or the client id of a service
    client_id: str | None = None
    role: str | None = None
    device: str | None = None
    purpose: tuple[str, ...] = ()  # purposeOfUse (v3-ActReason): TREAT, BTG, PATRQT, ...
    patients: tuple[str, ...] = ()  # Patient ids whose record the event touched
    entities: tuple[str, ...] = ()  # what was read/written/returned: "Type/id/_history/v"
    resource_type: str | None = None  # the type the interaction addressed
    query: str | None = None  # the search query string (kept in the audit store only)
    description: str | None = None  # plain words, no PHI: "denied: outside the care team"
    network: str | None = None  # the client's address
    occurred_ms: int | None = None  # when the user acted, by a device's clock (sync): period
    agent_name: str | None = None  # who, as they named themselves (a health link's recipient)
    #: Why access was allowed or refused, for the metrics only (not written into the chain):
    #: a :data:`bedside.policy.model.BASES` value, ``service``, ``consent`` for a consent's deny,
    #: or None when the entry is not an access decision about patients.
    basis: str | None = None

    @classmethod
    def of(
        cls,
        caller: Agent,
        subtype: str,
        action: str,
        *,
        now: float,
        outcome: str = SUCCESS,
        **fields: Any,
    ) -> AuditEntry:
        """An entry for what ``caller`` did at ``now`` (UNIX seconds): its agent fields from the
        caller, the rest as given."""
        return cls(
            subtype=subtype,
            action=action,
            outcome=outcome,
            recorded_ms=int(now * 1000),
            user_ref=caller.fhir_user,
            subject=caller.subject,
            client_id=caller.client_id,
            role=caller.role,
            **fields,
        )


class Agent(Protocol):
    """Who acted, as an audit entry names them (a verified caller)."""

    @property
    def fhir_user(self) -> str | None: ...
    @property
    def subject(self) -> str: ...
    @property
    def client_id(self) -> str | None: ...
    @property
    def role(self) -> str | None: ...


class Auditor(Protocol):
    enabled: bool

    def append(self, records: Records, entries: Sequence[AuditEntry]) -> None:
        """Chain ``entries`` inside the caller's open write transaction (same commit)."""
        ...

    def submit(self, entries: Sequence[AuditEntry]) -> None:
        """Make ``entries`` durable; returns once they are committed (group commit)."""
        ...


class NullAuditor:
    """Audit off: for benchmarks that measure its cost, and unit tests of other layers."""

    enabled = False

    def append(self, records: Records, entries: Sequence[AuditEntry]) -> None:
        return None

    def submit(self, entries: Sequence[AuditEntry]) -> None:
        return None
