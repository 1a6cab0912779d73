"""Which console role sees which page (docs/console.md "Who sees what").

Deny by default: a page not listed for a role is refused, and the refusal is audited.
"""

from __future__ import annotations

from typing import Final

__all__ = ["CONSOLE_ROLES", "PAGES", "VALUE_ROLES", "pages_for"]

CONSOLE_ROLES: Final = frozenset({"governance", "security", "clinical-safety"})
PAGES: Final = {
    "overview": frozenset({"governance", "security", "clinical-safety"}),
    "break-glass": frozenset({"governance", "security"}),
    "conflicts": frozenset({"governance", "clinical-safety"}),
    "devices": frozenset({"security"}),
    "audit": frozenset({"governance", "security"}),
    "upstream": frozenset({"governance", "security", "clinical-safety"}),
}

#: Roles shown a conflict's clinical values (base, device, server side by side): judging the
#: clinical risk of a conflict is the clinical-safety officer's job. Governance sees summaries.
VALUE_ROLES: Final = frozenset({"clinical-safety"})


def pages_for(role: str | None) -> list[str]:
    """The pages ``role`` may open, in menu order."""
    return [page for page, roles in PAGES.items() if role in roles]
