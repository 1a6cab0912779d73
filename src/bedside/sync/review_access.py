"""Who may see a review item (:mod:`bedside.sync.review`), and how much of it.

Who sees what (:func:`may_see`): the role an item is routed to, for patients its policy view
reaches now, sees the whole item; so does the item's author (the token names the device
that made the change, :func:`is_author`), who may withdraw it but not otherwise settle it when
it is routed to another role's queue; the governance roles (``[governance] review_roles``) see
every item without its clinical values; the operator (CLI, operator token) sees everything.
"""

from __future__ import annotations

from bedside.auth.caller import Caller
from bedside.policy.model import AccessView
from bedside.sync.review import ReviewItem

__all__ = ["is_author", "is_operator", "may_see"]


def is_operator(caller: Caller) -> bool:
    """The operator: ``bedside admin token`` (no role, no grant) or the CLI."""
    return caller.role is None and caller.grant_id is None


def may_see(caller: Caller, view: AccessView, item: ReviewItem, governance: frozenset[str]) -> str:
    """``"all"`` (the whole item), ``"summary"`` (no clinical values) or ``""`` (nothing)."""
    if is_operator(caller):
        return "all"
    if caller.role == item.route_role and _reaches(view, item.patient):
        return "all"
    if is_author(caller, item) and _reaches(view, item.patient):
        return "all"  # the clinician whose change it is sees what the server has
    if caller.role in governance:
        return "summary"
    return ""


def is_author(caller: Caller, item: ReviewItem) -> bool:
    """Whether the caller's token names the device that made the item's change (a device is
    enrolled for one user): its author may read the item and withdraw the change, whatever
    queue it is routed to; settling it otherwise stays with that queue."""
    return caller.device is not None and caller.device == item.device


def _reaches(view: AccessView, patient: str | None) -> bool:
    if not view.confined or patient is None:
        return True
    return patient in {a.patient for a in (*view.relations, *view.glass)}
