"""Break-glass governance for one caller (docs/policy.md "Break-glass"): the review queue for
``[governance] review_roles`` and the counts for ``monitor_roles``.

Built per request like ``Repository(store, caller)``: each method checks the caller's role,
opens its own transaction and, for a change, audits it in that transaction. SQL stays in
:mod:`bedside.policy.breakglass`; the HTTP layer (:mod:`bedside.web.policy_api`) only parses
and answers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bedside.audit.entry import AuditEntry
from bedside.errors import Forbidden, InvalidRequest
from bedside.policy import breakglass
from bedside.policy.bound import CallerBound

__all__ = ["BreakGlassGovernance"]


@dataclass
class BreakGlassGovernance(CallerBound):
    def require_reviewer(self) -> None:
        """403 unless the caller's role reviews break-glass access (checked before a body is
        read, and again by :meth:`close`)."""
        self._require(self.policy.rules.review_roles, "review break-glass access")

    def queue(self, status: str, limit: str) -> dict[str, Any]:
        """``{"status", "items"}``: open grants oldest first, closed or all newest first;
        ``limit`` as sent (a whole number)."""
        self.require_reviewer()
        with self.store.records() as db:
            items = breakglass.review_queue(db, status=status, limit=_whole(limit, "limit"))
        return {"status": status, "items": items}

    def close(self, grant_id: str, sent: dict[str, Any]) -> dict[str, Any]:
        """Close a grant's review as ``sent`` says (``outcome``, optional ``note``); audited in
        the same transaction."""
        self.require_reviewer()
        outcome, note = sent.get("outcome"), sent.get("note")
        if not isinstance(outcome, str) or not (note is None or isinstance(note, str)):
            raise InvalidRequest("outcome must be text, and note text or absent.")
        caller = self.caller
        with self.store.records(write=True) as db:
            item = breakglass.close(
                db,
                grant_id,
                reviewer=caller.fhir_user or caller.subject,
                outcome=outcome,
                note=note,
                now=self.policy.clock(),
            )
            self.auditor.append(  # the review is audited in its own transaction
                db,
                [
                    AuditEntry.of(
                        caller,
                        "break-glass",
                        "U",
                        now=self.policy.clock(),
                        patients=(item["patient"].partition("/")[2],),
                        description=f"break-glass review closed: {outcome}",
                    )
                ],
            )
        return item

    def stats(self, hours: str) -> dict[str, Any]:
        """Counts for monitoring over the last ``hours`` (as sent) whole UTC hours."""
        self._require(self.policy.rules.monitor_roles, "read break-glass statistics")
        with self.store.records() as db:
            return breakglass.stats(db, now=self.policy.clock(), hours=_whole(hours, "hours"))

    def _require(self, roles: frozenset[str], what: str) -> None:
        if self.caller.role is None or self.caller.role not in roles:
            raise Forbidden(f"Your role cannot {what}.")


def _whole(text: str, name: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise InvalidRequest(f"{name} must be a whole number.") from None
