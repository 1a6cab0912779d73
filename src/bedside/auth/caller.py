"""Who is calling, and what their grant lets them do. The repository is bound to one Caller.

A Caller comes from a verified access token. Besides its scopes it carries the context that
confines them: ``patient`` (the launch context) confines ``patient/`` scopes to that patient's
compartment, and a user whose role is ``patient`` has their ``user/`` scopes confined to their own
compartment (``user_patient``). ``system/`` scopes and operator tokens are not confined.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bedside.auth.scopes import ScopeSet
from bedside.errors import Forbidden

__all__ = ["Caller"]


@dataclass(frozen=True, slots=True)
class Caller:
    subject: str  # the token's ``sub``
    scopes: ScopeSet
    client_id: str | None = None
    patient: str | None = None  # launch context: the Patient id that patient/ scopes confine to
    fhir_user: str | None = None  # "Patient/123", "Practitioner/9"; None for services
    role: str | None = None  # patient, nurse, doctor, admin, auditor, support; None for services
    grant_id: str | None = None  # the grant (token family) the access token belongs to
    auth_time: int | None = None  # when the user last signed in (UNIX seconds), for step-up
    device: str | None = None  # the device the token was issued to (claim ``device``), if any

    def to_record(self) -> dict[str, Any]:
        """The Caller as JSON-ready fields (scopes and identity; no secret), for what keeps a
        caller to decide access again later: a browser session, a Subscription's owner."""
        return {
            "subject": self.subject,
            "scope": self.scopes.text().strip(),
            "client_id": self.client_id,
            "patient": self.patient,
            "fhir_user": self.fhir_user,
            "role": self.role,
            "grant_id": self.grant_id,
            "auth_time": self.auth_time,
            "device": self.device,
        }

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> Caller:
        """The Caller :meth:`to_record` kept."""
        return cls(
            subject=str(record["subject"]),
            scopes=ScopeSet.parse(str(record["scope"])),
            client_id=record.get("client_id"),
            patient=record.get("patient"),
            fhir_user=record.get("fhir_user"),
            role=record.get("role"),
            grant_id=record.get("grant_id"),
            auth_time=record.get("auth_time"),
            device=record.get("device"),
        )

    @property
    def user_patient(self) -> str | None:
        """The Patient id a patient user's ``user/`` scopes are confined to.

        None means "not confined" (clinical staff, services). A patient user without a linked
        Patient gets "" , which matches no compartment: deny by default.
        """
        if self.role != "patient":
            return None
        kind, _, rid = (self.fhir_user or "").partition("/")
        return rid if kind == "Patient" and rid else ""

    def confined_to(self, context: str) -> str | None:
        """The Patient id the scopes of ``context`` (patient, user, system) are confined to.

        None means not confined; "" means confined to nothing (a ``patient/`` scope without a
        launch patient, a patient user without a linked Patient): deny by default.
        """
        if context == "patient":
            return self.patient or ""
        if context == "user":
            return self.user_patient
        return None

    def require(self, resource_type: str, interaction: str) -> None:
        """Raise Forbidden (403, insufficient_scope) unless the grant covers the interaction."""
        if not self.scopes.allows(resource_type, interaction):
            raise Forbidden(
                f"The access token does not allow {interaction} on {resource_type}.",
                headers={
                    "WWW-Authenticate": 'Bearer error="insufficient_scope", '
                    f'error_description="{interaction} on {resource_type} not granted"'
                },
            )
