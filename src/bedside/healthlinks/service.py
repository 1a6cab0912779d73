"""SMART Health Links for a patient: make, list and revoke them (caller-bound), and answer a
recipient's manifest request (public: the link is the credential). SHL IG 1.0.0.

Making a link reads the chosen data through ``Repository(store, caller)``, so the Bundle holds
exactly what the patient may read of their own record, encrypts it under a fresh key and stores
only the ciphertext: the key leaves the server once, in the payload handed back.

A manifest request (``POST`` to the link's url) must name its ``recipient``; each request is
audited with that name, on the patient's record, whatever its outcome. A link that is revoked,
disabled or past ``exp`` answers 404. With a passcode (flag ``P``), a missing or wrong passcode
answers 401 with ``remainingAttempts``; the last wrong one disables the link. The passcode hash
is checked outside the write transaction (argon2 is slow on purpose) and the attempt is spent
with one conditional UPDATE, so guesses at once cannot share an attempt.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Final

import orjson
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from bedside.audit.entry import MINOR_FAILURE, SUCCESS, AuditEntry, Auditor, NullAuditor
from bedside.auth.caller import Caller
from bedside.consent.evaluate import shares_for
from bedside.errors import Forbidden, InvalidRequest, NotFound
from bedside.healthlinks import files, records
from bedside.healthlinks.payload import MAX_LABEL, LinkPayload, b64url, build
from bedside.healthlinks.records import LinkRow
from bedside.policy.decide import Policy
from bedside.portal.data_classes import chosen, types_of
from bedside.portal.record import search_all
from bedside.rest import FhirRequest, Repository
from bedside.store.base import Store

__all__ = [
    "DEFAULT_ATTEMPTS",
    "DEFAULT_DAYS",
    "MAX_DAYS",
    "MAX_PASSCODE",
    "MAX_RECIPIENT",
    "MIN_PASSCODE",
    "ONE_RESULT",
    "TICKET_SECONDS",
    "HealthLinks",
    "MadeLink",
    "ManifestAnswer",
]

DEFAULT_DAYS: Final = 30
MAX_DAYS: Final = 365
DEFAULT_ATTEMPTS: Final = 5
MIN_PASSCODE: Final = 4
MAX_PASSCODE: Final = 64
MAX_RECIPIENT: Final = 200
_HASHER: Final = PasswordHasher()
#: A link id: 32 random bytes in base64url. Anything else is not one of ours (and never
#: reaches SQL: PostgreSQL refuses a NUL byte in text, for one).
_LINK_ID: Final = re.compile(r"[A-Za-z0-9_-]{43}")
_FHIR_ID: Final = re.compile(r"[A-Za-z0-9\-.]{1,64}")
#: The ``what`` of a link to a single result.
ONE_RESULT: Final = "one-result"
#: How long a file's ``location`` URL lives (the IG: at most an hour).
TICKET_SECONDS: Final = 600
_TICKET: Final = re.compile(r"[A-Za-z0-9_-]{43}")
_ENDED: Final = {"error": "This link does not exist or has ended."}


@dataclass(frozen=True, slots=True)
class MadeLink:
    id: str
    payload: LinkPayload
    viewer_url: str  # the viewer page with the link in its fragment (never sent to a server)
    counts: dict[str, int]  # resources shared, by type


@dataclass(frozen=True, slots=True)
class ManifestAnswer:
    status: int
    body: dict[str, Any]


class HealthLinks:
    def __init__(
        self,
        store: Store,
        *,
        root: str,
        fhir_base: str,
        policy: Policy | None = None,
        auditor: Auditor | None = None,
        clock: Callable[[], float] = time.time,
        attempts: int = DEFAULT_ATTEMPTS,
    ) -> None:
        self.store = store
        self.root = root.rstrip("/")
        self.fhir_base = fhir_base
        self.policy = policy or Policy(clock=clock, consents=shares_for)
        self.auditor: Auditor = auditor or NullAuditor()
        self.clock = clock
        self.attempts = attempts

    # --- the patient's side ------------------------------------------------------------------

    def make(
        self,
        caller: Caller,
        *,
        what: Sequence[str],
        label: str | None = None,
        days: int = DEFAULT_DAYS,
        passcode: str | None = None,
        result: str | None = None,
    ) -> MadeLink:
        """A new link to the chosen kinds of the caller's own data, valid for ``days``; or, with
        ``result`` (an Observation id), to that one result alone."""
        patient = _own_patient(caller, "create")
        if result is not None and not _FHIR_ID.fullmatch(result):
            raise NotFound("There is no such result in your record.")
        classes = chosen(what) if result is None else ()
        label = (label or "").strip() or None
        if label is not None and len(label) > MAX_LABEL:
            raise InvalidRequest(f"Keep the label to {MAX_LABEL} characters or fewer.")
        if label is not None and not label.isprintable():
            raise InvalidRequest("The label can only hold ordinary text.")
        if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= MAX_DAYS:
            raise InvalidRequest(f"A link lasts between 1 and {MAX_DAYS} days.")
        if passcode is not None and not MIN_PASSCODE <= len(passcode) <= MAX_PASSCODE:
            raise InvalidRequest(
                f"A passcode has between {MIN_PASSCODE} and {MAX_PASSCODE} characters."
            )
        bundle, counts = self._bundle(caller, patient, types_of(classes), result)
        now = int(self.clock())
        link_id = b64url(secrets.token_bytes(32))
        exp = now + days * 86400
        payload = build(
            f"{self.root}/shl/m/{link_id}", exp=exp, passcode=passcode is not None, label=label
        )
        row = LinkRow(
            link_id,
            patient,
            caller.subject,
            label,
            tuple(c.name for c in classes) if result is None else (ONE_RESULT,),
            _HASHER.hash(passcode) if passcode is not None else None,
            self.attempts,
            exp,
            "active",
            now,
            None,
            files.FHIR_JSON,
            files.encrypt(orjson.dumps(bundle), payload.key),
        )
        with self.store.records(write=True) as db:
            records.insert(db, row)
            self.auditor.append(db, [self._entry(caller, "shl-create", "C", patient, link_id)])
        return MadeLink(link_id, payload, f"{self.root}/shl/view#{payload.uri()}", counts)

    def links(self, caller: Caller) -> list[LinkRow]:
        """The caller's own links, newest first (their files are not for display)."""
        patient = _own_patient(caller, "read")
        with self.store.records() as db:
            return records.by_patient(db, patient)

    def revoke(self, caller: Caller, link_id: str) -> None:
        """End one of the caller's active links at once; 404 for anything else."""
        patient = _own_patient(caller, "update")
        if not _LINK_ID.fullmatch(link_id):
            raise NotFound("There is no active link with that id among yours.")
        with self.store.records(write=True) as db:
            if not records.end(db, link_id, patient, int(self.clock())):
                raise NotFound("There is no active link with that id among yours.")
            self.auditor.append(db, [self._entry(caller, "shl-revoke", "U", patient, link_id)])

    def _bundle(
        self, caller: Caller, patient: str, types: tuple[str, ...], result: str | None = None
    ) -> tuple[dict[str, Any], dict[str, int]]:
        repo = Repository(
            self.store, caller, self.fhir_base, policy=self.policy, auditor=self.auditor
        )
        entries: list[dict[str, Any]] = []
        counts: dict[str, int] = {}
        own = repo.handle(FhirRequest("GET", f"Patient/{patient}")).resource
        if own is not None:
            entries.append({"fullUrl": f"{self.fhir_base}/Patient/{patient}", "resource": own})
        if result is not None:  # one result, read as the patient (404 if not theirs)
            found_one = repo.handle(FhirRequest("GET", f"Observation/{result}")).resource or {}
            entries.append(
                {"fullUrl": f"{self.fhir_base}/Observation/{result}", "resource": found_one}
            )
            counts["Observation"] = 1
        for rtype in types:
            matches = search_all(repo, rtype, (("patient", patient),))
            counts[rtype] = len(matches)
            entries.extend(
                {"fullUrl": f"{self.fhir_base}/{rtype}/{r['id']}", "resource": r} for r in matches
            )
        bundle = {"resourceType": "Bundle", "type": "collection", "entry": entries}
        return bundle, counts

    def _entry(
        self, caller: Caller, subtype: str, action: str, patient: str, link_id: str
    ) -> AuditEntry:
        return AuditEntry(
            subtype,
            action,
            SUCCESS,
            int(self.clock() * 1000),
            user_ref=caller.fhir_user,
            subject=caller.subject,
            client_id=caller.client_id,
            role=caller.role,
            purpose=("PATRQT",),
            patients=(patient,),
            description=f"health link {link_id[:8]}",
        )

    # --- the recipient's side ----------------------------------------------------------------

    def manifest(self, link_id: str, body: Any, network: str | None = None) -> ManifestAnswer:
        """Answer a manifest request (SHL IG "Manifest request")."""
        if not _LINK_ID.fullmatch(link_id):
            return ManifestAnswer(404, dict(_ENDED))
        if not isinstance(body, dict):
            raise InvalidRequest("Send a JSON object with recipient (and passcode if needed).")
        recipient = body.get("recipient")
        if not isinstance(recipient, str) or not recipient.strip():
            raise InvalidRequest("Say who is opening the link: recipient is required.")
        if len(recipient) > MAX_RECIPIENT:
            raise InvalidRequest(f"Keep recipient to {MAX_RECIPIENT} characters or fewer.")
        recipient = recipient.strip()
        if not recipient.isprintable():
            raise InvalidRequest("recipient can only hold ordinary text.")
        passcode = body.get("passcode")
        if passcode is not None and not isinstance(passcode, str):
            raise InvalidRequest("passcode must be text.")
        most = body.get("embeddedLengthMax")
        if most is not None and (isinstance(most, bool) or not isinstance(most, int) or most < 0):
            raise InvalidRequest("embeddedLengthMax must be a whole number, 0 or more.")
        with self.store.records() as db:
            link = records.by_id(db, link_id)
        now = int(self.clock())
        if link is None:
            return ManifestAnswer(404, dict(_ENDED))
        note = _Recipient(self, link, recipient, network)
        if link.status != "active" or (link.exp is not None and now >= link.exp):
            note.record(MINOR_FAILURE, "refused: the link has ended")
            return ManifestAnswer(404, dict(_ENDED))
        if link.passcode_hash is not None and not _passcode_ok(link.passcode_hash, passcode):
            with self.store.records(write=True) as db:
                left = records.spend_attempt(db, link.id, now)
                if left is None:
                    note.record(MINOR_FAILURE, "refused: the link has ended", db)
                    return ManifestAnswer(404, dict(_ENDED))
                ended = " (no attempts left: link disabled)" if left == 0 else ""
                note.record(MINOR_FAILURE, f"refused: wrong passcode{ended}", db)
            return ManifestAnswer(
                401, {"error": "The passcode is not right.", "remainingAttempts": left}
            )
        with self.store.records(write=True) as db:
            current = records.by_id(db, link.id)
            if current is None or current.status != "active":
                note.record(MINOR_FAILURE, "refused: the link has ended", db)
                return ManifestAnswer(404, dict(_ENDED))
            note.record(SUCCESS, "link opened", db)
            file: dict[str, str] = {"contentType": link.content_type}
            if most is not None and len(link.file) > most:
                ticket = secrets.token_urlsafe(32)
                expires = now + TICKET_SECONDS
                records.add_ticket(db, _digest(ticket), link.id, expires, now)
                file["location"] = f"{self.root}/shl/f/{ticket}"
            else:
                file["embedded"] = link.file
        return ManifestAnswer(200, {"status": "finalized", "files": [file]})

    def file(self, ticket: str) -> str | None:
        """The JWE a manifest's ``location`` points to, while the ticket lives (at most
        :data:`TICKET_SECONDS`) and its link is still active; None otherwise (404)."""
        if not _TICKET.fullmatch(ticket):
            return None
        now = int(self.clock())
        with self.store.records() as db:
            link_id = records.ticket_link(db, _digest(ticket), now)
            link = records.by_id(db, link_id) if link_id is not None else None
        if link is None or link.status != "active" or (link.exp is not None and now >= link.exp):
            return None
        return link.file


@dataclass(frozen=True, slots=True)
class _Recipient:
    """The audit of one manifest request: on the patient's record, naming the recipient."""

    links: HealthLinks
    link: LinkRow
    recipient: str
    network: str | None

    def record(self, outcome: str, what: str, db: Any = None) -> None:
        entry = AuditEntry(
            "shl-manifest",
            "R",
            outcome,
            int(self.links.clock() * 1000),
            purpose=("PATRQT",),
            patients=(self.link.patient,),
            description=f"health link {self.link.id[:8]}: {what}",
            network=self.network,
            agent_name=self.recipient,
        )
        if db is not None:
            self.links.auditor.append(db, [entry])
        else:
            self.links.auditor.submit([entry])


def _digest(ticket: str) -> str:
    return hashlib.sha256(ticket.encode("ascii")).hexdigest()


def _passcode_ok(stored: str, given: str | None) -> bool:
    if given is None:
        return False
    try:
        return bool(_HASHER.verify(stored, given[:MAX_PASSCODE]))
    except (VerificationError, InvalidHashError):
        return False


def _own_patient(caller: Caller, interaction: str) -> str:
    """The patient user's own Patient id. A link is a sharing decision like a Consent, so
    making, listing and revoking links needs the grant to allow that on Consent."""
    if caller.role != "patient" or not caller.user_patient:
        raise Forbidden("Only a patient can share their own record with a link.")
    caller.require("Consent", interaction)
    return caller.user_patient
