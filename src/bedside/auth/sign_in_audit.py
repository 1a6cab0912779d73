"""The audit half of :class:`bedside.auth.server.AuthServer`: the events it records (docs/audit.md).

:class:`SignInAudit` records authorization events (action E) durably, signs users in with the
attempt audited whether it succeeds or not, and records a refused code or refresh-token exchange
that was a reuse. It is a base class of ``AuthServer``, which provides the attributes below.
"""

from __future__ import annotations

from collections.abc import Callable

from bedside.audit.entry import MINOR_FAILURE, SERIOUS_FAILURE, SUCCESS, AuditEntry, Auditor
from bedside.auth import digests
from bedside.auth.users import SignInFailed, User, Users
from bedside.store.base import Store

__all__ = ["SignInAudit"]


class SignInAudit:
    """Audited sign-in and authorization events, over the server's users, store and auditor."""

    store: Store
    users: Users
    auditor: Auditor
    clock: Callable[[], float]

    def audit(
        self,
        subtype: str,
        outcome: str = SUCCESS,
        *,
        subject: str | None = None,
        user_ref: str | None = None,
        role: str | None = None,
        client_id: str | None = None,
        patient: str | None = None,
        network: str | None = None,
        description: str | None = None,
    ) -> None:
        """Record one authorization event (action E) durably, before the response goes out."""
        entry = AuditEntry(
            subtype=subtype,
            action="E",
            outcome=outcome,
            recorded_ms=int(self.clock() * 1000),
            user_ref=user_ref,
            subject=subject,
            client_id=client_id,
            role=role,
            patients=(patient,) if patient else (),
            network=network,
            description=description,
        )
        self.auditor.submit([entry])

    def sign_in(
        self,
        username: str,
        password: str,
        *,
        client_id: str | None = None,
        network: str | None = None,
    ) -> User:
        """:meth:`Users.authenticate`, audited whether it succeeds or not (DICOM 110122 Login).

        The typed password is never recorded; the typed username only as the id of the user it
        names (a password typed into the username field must not end up in the audit log).
        """
        try:
            user = self.users.authenticate(username, password)
        except SignInFailed:
            named = self.users.by_username(username)
            self.audit(
                "login",
                MINOR_FAILURE,
                subject=named.id if named else None,
                client_id=client_id,
                network=network,
                description="sign-in refused",
            )
            raise
        self.audit(
            "login",
            subject=user.id,
            user_ref=user.fhir_user,
            role=user.role,
            client_id=client_id,
            network=network,
        )
        return user

    def audit_refused_exchange(self, kind: str, secret: str, client_id: str) -> None:
        """After a refused ``code`` or ``refresh`` exchange: if the secret had already been spent,
        that was reuse (RFC 9700 §4.14.2, RFC 6749 §4.1.2), its grant is revoked, and it is
        recorded as a serious failure. Other refusals (unknown, expired) are not audited here."""
        if kind == "refresh":
            sql = (
                "SELECT g.user_id FROM auth_refresh_tokens t JOIN auth_grants g"
                " ON g.id = t.grant_id WHERE t.token_hash = ? AND t.rotated_at IS NOT NULL"
                " AND g.client_id = ?"
            )
            args: tuple[str, ...] = (digests.digest(secret), client_id)
        else:
            sql = (
                "SELECT g.user_id FROM auth_codes c JOIN auth_grants g ON g.id = c.grant_id"
                " WHERE c.code_hash = ? AND g.revoked_why = 'authorization code reused'"
            )
            args = (digests.digest(secret),)
        with self.store.records() as db:
            row = db.one(sql, args)
        if row is not None:
            what = "refresh token" if kind == "refresh" else "authorization code"
            self.audit(
                "token-reuse",
                SERIOUS_FAILURE,
                subject=row[0],
                client_id=client_id,
                description=f"{what} reused: grant revoked",
            )
