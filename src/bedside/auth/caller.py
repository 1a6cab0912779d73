"""Who is calling, and what their grant lets them do. The repository is bound to one Caller."""

from __future__ import annotations

from dataclasses import dataclass

from bedside.auth.scopes import ScopeSet
from bedside.errors import Forbidden


@dataclass(frozen=True, slots=True)
class Caller:
    subject: str  # the token's ``sub``
    scopes: ScopeSet
    client_id: str | None = None

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
