"""People who sign in: a role, an optional FHIR identity (``fhirUser``) and an argon2id password.

Sign-in failures are counted per user. From the fifth consecutive failure the account is locked,
first for one minute, doubling with each further failure up to an hour; a success resets the
count. Every refusal says the same thing, so sign-in does not reveal which usernames exist or
whether an account is locked. Disabling a user revokes all of their grants, which stops their
refresh tokens and their live access tokens.
"""

from __future__ import annotations

import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from bedside.auth import passwords
from bedside.errors import AdminError, BedsideError
from bedside.store.base import Records, Store

__all__ = [
    "MAX_FAILURES",
    "MAX_LOCK_SECONDS",
    "ROLES",
    "SignInFailed",
    "User",
    "Users",
    "lock_seconds",
]

ROLES: Final = (
    "patient",
    "nurse",
    "doctor",
    "admin",
    "auditor",
    "support",
    # the governance console's users (docs/console.md)
    "governance",
    "security",
    "clinical-safety",
)
MAX_FAILURES: Final = 5
MAX_LOCK_SECONDS: Final = 3600
_USERNAME: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,63}")
_FHIR_USER: Final = re.compile(
    r"(Patient|Practitioner|PractitionerRole|RelatedPerson)/[A-Za-z0-9.-]{1,64}"
)
_COLUMNS: Final = "id, username, role, fhir_user, disabled"


class SignInFailed(BedsideError):
    """Wrong username or password, a disabled or a locked account (deliberately not told apart)."""

    MESSAGE: Final = (
        "Sign-in failed. Check your username and password. After repeated failures an account "
        "is locked for a while."
    )

    def __init__(self) -> None:
        super().__init__(self.MESSAGE)


@dataclass(frozen=True, slots=True)
class User:
    id: str
    username: str
    role: str
    fhir_user: str | None
    disabled: bool

    @property
    def patient_id(self) -> str | None:
        """The Patient this user is, for a patient linked to their record."""
        kind, _, rid = (self.fhir_user or "").partition("/")
        return rid if kind == "Patient" and self.role == "patient" else None


def _user(row: tuple[object, ...]) -> User:
    uid, username, role, fhir_user, disabled = row
    return User(
        str(uid), str(username), str(role), str(fhir_user) if fhir_user else None, bool(disabled)
    )


def lock_seconds(failures: int) -> int:
    """How long an account stays locked after ``failures`` consecutive failures."""
    if failures < MAX_FAILURES:
        return 0
    return int(min(60 * 2 ** (failures - MAX_FAILURES), MAX_LOCK_SECONDS))


class Users:
    def __init__(self, store: Store, *, clock: Callable[[], float] = time.time) -> None:
        self.store = store
        self.clock = clock

    # --- administration ------------------------------------------------------------------

    def add(self, username: str, role: str, password: str, fhir_user: str | None = None) -> User:
        if not _USERNAME.fullmatch(username):
            raise AdminError(
                "A username is 1-64 letters, digits, dots, dashes, underscores or @, "
                "starting with a letter or digit."
            )
        if role not in ROLES:
            raise AdminError(f"Unknown role '{role}'; choose one of {', '.join(ROLES)}.")
        if fhir_user is not None and not _FHIR_USER.fullmatch(fhir_user):
            raise AdminError(
                "--fhir-user must be a reference such as Patient/123 or Practitioner/45."
            )
        if role == "patient" and not (fhir_user or "").startswith("Patient/"):
            raise AdminError("A patient user needs --fhir-user Patient/ID (their own record).")
        if role in ("doctor", "nurse") and fhir_user and fhir_user.startswith("Patient/"):
            raise AdminError(f"A {role} is linked to a Practitioner, not a Patient.")
        hashed = passwords.hash_password(password)
        user = User("u-" + secrets.token_hex(8), username, role, fhir_user, False)
        with self.store.records(write=True) as db:
            if db.one("SELECT 1 FROM auth_users WHERE username = ?", (username,)):
                raise AdminError(f"A user named '{username}' already exists.")
            db.run(
                "INSERT INTO auth_users (id, username, role, fhir_user, password_hash,"
                " created_at) VALUES (?, ?, ?, ?, ?, ?)",
                (user.id, username, role, fhir_user, hashed, int(self.clock())),
            )
        return user

    def list(self) -> list[User]:
        with self.store.records() as db:
            rows = db.rows(f"SELECT {_COLUMNS} FROM auth_users ORDER BY username")
        return [_user(r) for r in rows]

    def get(self, user_id: str) -> User | None:
        with self.store.records() as db:
            row = db.one(f"SELECT {_COLUMNS} FROM auth_users WHERE id = ?", (user_id,))
        return _user(row) if row else None

    def by_username(self, username: str) -> User | None:
        with self.store.records() as db:
            row = db.one(f"SELECT {_COLUMNS} FROM auth_users WHERE username = ?", (username,))
        return _user(row) if row else None

    def set_disabled(self, username: str, disabled: bool) -> User:
        """Disable (revoking every grant the user holds) or enable a user."""
        now = int(self.clock())
        with self.store.records(write=True) as db:
            user = self._require(db, username)
            db.run("UPDATE auth_users SET disabled = ? WHERE id = ?", (int(disabled), user.id))
            if disabled:
                db.run(
                    "UPDATE auth_grants SET revoked_at = ?, revoked_why = 'user disabled'"
                    " WHERE user_id = ? AND revoked_at IS NULL",
                    (now, user.id),
                )
        return User(user.id, user.username, user.role, user.fhir_user, disabled)

    def reset_password(self, username: str, password: str) -> None:
        """Set a new password and clear any lockout."""
        hashed = passwords.hash_password(password)
        with self.store.records(write=True) as db:
            user = self._require(db, username)
            db.run(
                "UPDATE auth_users SET password_hash = ?, failures = 0, locked_until = 0"
                " WHERE id = ?",
                (hashed, user.id),
            )

    @staticmethod
    def _require(db: Records, username: str) -> User:
        row = db.one(f"SELECT {_COLUMNS} FROM auth_users WHERE username = ?", (username,))
        if row is None:
            raise AdminError(f"There is no user named '{username}'.")
        return _user(row)

    # --- sign-in -----------------------------------------------------------------------------

    def authenticate(self, username: str, password: str) -> User:
        """The user, or SignInFailed. Counts failures and locks as described above."""
        now = int(self.clock())
        with self.store.records() as db:
            row = db.one(
                f"SELECT {_COLUMNS}, password_hash, locked_until FROM auth_users"
                " WHERE username = ?",
                (username,),
            )
        if row is None:
            passwords.spend_equal_time(password)
            raise SignInFailed()
        user = _user(row[:5])
        stored_hash, locked_until = str(row[5]), int(row[6])
        if locked_until > now:
            passwords.spend_equal_time(password)
            raise SignInFailed()
        if not passwords.verify(stored_hash, password):
            self._failed(user.id, now)
            raise SignInFailed()
        if user.disabled:
            raise SignInFailed()
        with self.store.records(write=True) as db:
            db.run("UPDATE auth_users SET failures = 0, locked_until = 0 WHERE id = ?", (user.id,))
        return user

    def _failed(self, user_id: str, now: int) -> None:
        with self.store.records(write=True) as db:
            db.run("UPDATE auth_users SET failures = failures + 1 WHERE id = ?", (user_id,))
            row = db.one("SELECT failures FROM auth_users WHERE id = ?", (user_id,))
            failures = int(row[0]) if row else 0
            if lock_seconds(failures):
                db.run(
                    "UPDATE auth_users SET locked_until = ? WHERE id = ?",
                    (now + lock_seconds(failures), user_id),
                )
