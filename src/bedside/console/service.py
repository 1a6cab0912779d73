"""The console's work for one signed-in user (a :class:`~bedside.auth.caller.Caller`).

Every method checks the caller's role for its page (:mod:`bedside.console.roles`) and is
audited: a page view (``console-view``, naming the patients it showed), a reveal, a change;
a refusal too. SQL stays in the owning modules (break-glass, registry, telemetry, review
queue, audit search); this module decides and words.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any, Final

from bedside.audit.entry import MINOR_FAILURE, SUCCESS, AuditEntry, Auditor
from bedside.audit.search import AuditSearch
from bedside.audit.verify import verify
from bedside.auth.caller import Caller
from bedside.auth.users import Users
from bedside.console import upstream
from bedside.console.resolving import ConflictDesk, patient_of
from bedside.console.roles import PAGES, VALUE_ROLES
from bedside.console.trends import trends
from bedside.console.words import drain, identifier_of, name_of
from bedside.errors import Forbidden, InvalidRequest, NotFound
from bedside.fleet import compliance, registry, telemetry, wipes
from bedside.policy import breakglass
from bedside.policy.decide import Policy
from bedside.policy.posture import assess
from bedside.policy.posture import words as posture_words
from bedside.store.base import Store
from bedside.sync import clock, deferral, review
from bedside.upstream.config import UpstreamConfig

__all__ = ["Console"]

_OUTCOMES: Final = {"0": "allowed", "4": "refused", "8": "failed"}


class Console:
    def __init__(
        self,
        store: Store,
        policy: Policy,
        auditor: Auditor,
        caller: Caller,
        base: str,
        sources: UpstreamConfig | None = None,
    ) -> None:
        self.sources = sources  # upstream.toml, for the Upstream page
        self.store = store
        self.policy = policy
        self.auditor = auditor
        self.caller = caller
        self.base = base

    # --- audit of the console itself ---------------------------------------------------------

    def _entry(
        self,
        subtype: str,
        description: str,
        *,
        outcome: str = SUCCESS,
        action: str = "R",
        patients: Sequence[str] = (),
        device: str | None = None,
    ) -> AuditEntry:
        c = self.caller
        return AuditEntry(
            subtype=subtype,
            action=action,
            outcome=outcome,
            recorded_ms=int(self.policy.clock() * 1000),
            user_ref=c.fhir_user,
            subject=c.subject,
            client_id=c.client_id,
            role=c.role,
            device=device,
            patients=tuple(sorted(set(patients))),
            description=description,
        )

    def viewed(self, page: str, patients: Sequence[str] = ()) -> None:
        """Audit one page view (every view is audited: brief G7)."""
        self.auditor.submit(
            [self._entry("console-view", f"console: {page} viewed", patients=patients)]
        )

    def require(self, page: str) -> None:
        """Refuse (and audit) a page this caller's role may not open."""
        if self.caller.role not in PAGES.get(page, frozenset()):
            self.auditor.submit(
                [self._entry("console-view", f"console: {page} refused", outcome=MINOR_FAILURE)]
            )
            raise Forbidden("Your role cannot open this page of the console.")

    # --- overview ----------------------------------------------------------------------------

    def overview(self) -> dict[str, Any]:
        self.require("overview")
        now = self.policy.clock()
        with self.store.records() as db:
            glass = breakglass.stats(db, now=now, hours=24)
            queue = review.open_counts(db)
            statuses = registry.status_counts(db)
            health = telemetry.active_reports(db)
            charts = trends(db, now)
        by_class: Counter[str] = Counter()
        for rtype, _code, n, _oldest in queue:
            by_class[self.policy.rules.sync.conflict_class(rtype)] += n
        unsent = sum(r.unsent for _, r in health if r is not None)
        self.viewed("overview")
        return {
            "trends": charts,
            "break_glass": glass,
            "conflicts": dict(sorted(by_class.items())),
            "devices": {s: statuses.get(s, 0) for s in registry.STATUSES},
            "unsent": unsent,
        }

    # --- break-glass review --------------------------------------------------------------------

    def break_glass(self, status: str) -> list[dict[str, Any]]:
        """Grants (open first, or closed), each with the patient's identifier (never the name)
        and what was done under it."""
        self.require("break-glass")
        with self.store.read() as session:
            db = session.records()
            items = breakglass.review_queue(db, status=status, limit=200)
            for item in items:
                pid = item["patient"].partition("/")[2]
                item["identifier"] = identifier_of(session.current("Patient", pid))
                item["accessed"] = _accessed(AuditSearch(db, self.base), item)
                item["own"] = self._reviewer() in (item["user"], item["user_id"])
                item["username"] = self._username(item["user_id"])
        self.viewed(f"break-glass ({status})", [i["patient"].partition("/")[2] for i in items])
        return items

    def reveal(self, grant_id: str) -> dict[str, Any]:
        """The patient's name for one grant under review: audited as its own act."""
        self.require("break-glass")
        with self.store.read() as session:
            found = [
                i
                for i in breakglass.review_queue(session.records(), status=None, limit=1000)
                if i["id"] == grant_id
            ]
            if not found:
                raise NotFound("No such break-glass grant.")
            pid = found[0]["patient"].partition("/")[2]
            name = name_of(session.current("Patient", pid))
        self.auditor.submit(
            [
                self._entry(
                    "console-reveal", f"console: patient shown for {grant_id}", patients=[pid]
                )
            ]
        )
        return {"grant": grant_id, "patient": pid, "name": name}

    def close(self, grant_id: str, outcome: str, note: str | None) -> dict[str, Any]:
        self.require("break-glass")
        now = self.policy.clock()
        with self.store.records(write=True) as db:
            item = breakglass.close(
                db, grant_id, reviewer=self._reviewer(), outcome=outcome, note=note, now=now
            )
            pid = item["patient"].partition("/")[2]
            self.auditor.append(
                db,
                [
                    self._entry(
                        "break-glass",
                        f"break-glass review closed: {outcome}",
                        action="U",
                        patients=[pid],
                    )
                ],
            )
        return item

    def _username(self, user_id: str | None) -> str:
        user = Users(self.store).get(user_id) if user_id else None
        return user.username if user is not None else "(unknown user)"

    def _reviewer(self) -> str:
        return self.caller.fhir_user or self.caller.subject

    # --- conflicts (the review queue, without clinical values) ---------------------------------

    def conflicts(self, state: str) -> list[dict[str, Any]]:
        self.require("conflicts")
        if state not in ("open", "resolved"):
            raise InvalidRequest("state must be open or resolved.")
        now = self.policy.clock()
        with self.store.records() as db:
            items = review.listing(db, state=state, limit=200)
            put_aside = deferral.deferred(db, [i.id for i in items])
        shown = []
        for item in items:
            s = item.summary()
            s["deferred"] = item.id in put_aside
            s["class"] = self.policy.rules.sync.conflict_class(item.resource_type)
            s["age_s"] = max(0, int(now - item.created_at))
            shown.append(s)
        self.viewed(f"conflicts ({state})", [i.patient for i in items if i.patient])
        return shown

    def conflict(self, item_id: str) -> dict[str, Any]:
        """One item. The clinical-safety role, and a reviewer the policy lets settle it
        (:mod:`bedside.console.resolving`), see the changed fields' base, device and server
        values side by side; others see the summary only. The view is audited with the patient
        when values are shown."""
        self.require("conflicts")
        with self.store.records() as db:
            item = review.get(db, item_id)
        if item is None:
            raise NotFound("There is no review item with this id.")
        shown = self.desk().detail(item, values=self.caller.role in VALUE_ROLES)
        shown["class"] = self.policy.rules.sync.conflict_class(item.resource_type)
        shown["age_s"] = max(0, int(self.policy.clock() - item.created_at))
        values = "sides" in shown
        patient = patient_of(item)
        patients = [patient] if values and patient else []
        self.viewed(f"conflict {item_id}" + ("" if values else " (summary)"), patients)
        return shown

    # --- upstream feeds ------------------------------------------------------------------------

    def upstream(self) -> list[dict[str, Any]]:
        self.require("upstream")
        with self.store.records() as db:
            shown = upstream.feeds(db, self.sources, self.policy.clock())
        self.viewed("upstream")
        return shown

    def desk(self) -> ConflictDesk:
        return ConflictDesk(self.store, self.policy, self.auditor, self.caller, self.base)

    def resolve(
        self, item_id: str, keep: str, version: int | None, choices: dict[str, str]
    ) -> dict[str, Any]:
        """Settle an item under the resolution-scoped authority (ADR 0014)."""
        self.require("conflicts")
        return self.desk().resolve(item_id, keep, version, choices).summary()

    def defer(self, item_id: str, note: str) -> None:
        self.require("conflicts")
        self.desk().defer(item_id, note, self._entry)

    # --- devices ---------------------------------------------------------------------------------

    def devices(self) -> list[dict[str, Any]]:
        self.require("devices")
        with self.store.records() as db:
            listed = registry.listing(db)
            reports = telemetry.reports(db)
        for d in listed:
            report = reports.get(d["device_id"])
            d["health"] = drain(report, self.policy.clock())
            posture = compliance.latest_posture(report.posture if report else None, d["posture"])
            d["step"] = compliance.step(d["status"], posture)
        self.viewed("devices")
        return listed

    def device(self, device_id: str) -> dict[str, Any]:
        self.require("devices")
        with self.store.records() as db:
            found = registry.get(db, device_id)
            if found is None:
                raise NotFound("There is no device with this id.")
            report = telemetry.latest(db, device_id)
            pushed = clock.last_measured(db, device_id)
            wiped = wipes.of(db, device_id)
        shown = found.summary()
        shown["wiped"] = wiped
        shown["wipe_words"] = wipes.words(found.status, wiped)
        shown["last_push"] = pushed[1] if pushed else None
        shown.pop("public_key", None)
        shown["username"] = self._username(found.user_id)
        shown["health"] = drain(report, self.policy.clock())
        shown["posture"] = compliance.latest_posture(
            report.posture if report else None, shown["posture"]
        )
        shown["step"] = compliance.step(found.status, shown["posture"])
        step, reasons = assess(shown["posture"], self.policy.rules.posture)
        shown["posture_step"] = step
        shown["posture_words"] = posture_words(step, reasons) or "Nothing blocked."
        self.viewed(f"device {device_id}")
        return shown

    def change_device(self, device_id: str, change: str) -> bool:
        """Revoke or flag to wipe; True if it changed."""
        self.require("devices")
        if change not in ("revoke", "wipe"):
            raise InvalidRequest("The change must be revoke or wipe.")
        now = self.policy.clock()
        with self.store.records(write=True) as db:
            act = registry.revoke if change == "revoke" else registry.wipe
            _, changed = act(db, device_id, now=now)
            words = "revoked" if change == "revoke" else "flagged for wipe"
            entry = self._entry(
                f"device-{change}", f"console: device {words}", action="U", device=device_id
            )
            self.auditor.append(db, [entry])
        return changed

    # --- audit -------------------------------------------------------------------------------

    def _agents(self, params: Sequence[tuple[str, str]]) -> list[tuple[str, str]]:
        """A user given by username searches by their user id (the audit's agent)."""
        out = []
        for key, text in params:
            if key == "agent" and "/" not in text:
                user = Users(self.store).by_username(text)
                text = user.id if user is not None else text
            out.append((key, text))
        return out

    def usernames(self, ids: set[str]) -> dict[str, str]:
        """User ids to usernames, for the audit page's Who column."""
        users = Users(self.store)
        found = {i: users.get(i) for i in ids}
        return {i: u.username for i, u in found.items() if u is not None}

    def audit_search(self, params: Sequence[tuple[str, str]]) -> dict[str, Any]:
        """A searchset Bundle of AuditEvents (the same search as ``GET /fhir/AuditEvent``)."""
        self.require("audit")
        params = self._agents(params)
        with self.store.records() as db:
            bundle = AuditSearch(db, self.base).search(params)
        patients = [v.partition("/")[2] or v for k, v in params if k == "patient"]
        self.viewed("audit search", patients)
        return bundle

    def audit_export(self, params: Sequence[tuple[str, str]]) -> dict[str, Any]:
        self.require("audit")
        params = self._agents(params)
        with self.store.records() as db:
            bundle = AuditSearch(db, self.base).search([*params, ("_count", "1000")])
        patients = [v.partition("/")[2] or v for k, v in params if k == "patient"]
        self.auditor.submit(
            [self._entry("console-export", "console: audit trail exported", patients=patients)]
        )
        return bundle

    def chain(self) -> dict[str, Any]:
        self.require("audit")
        with self.store.read() as session:
            result = verify(session.records())
        self.viewed("audit chain check")
        return {"ok": result.ok, "checked": result.checked, "reason": result.reason}


def _accessed(search: AuditSearch, item: dict[str, Any]) -> list[str]:
    """What was done under a grant: 'read Observation: 3' (types and counts, no ids)."""
    pid = item["patient"].partition("/")[2]
    params = [
        ("patient", pid),
        ("purpose", "BTG"),
        ("date", f"ge{item['started']}"),
        ("date", f"le{item['expires']}"),
        ("_count", "1000"),
    ]
    done: Counter[str] = Counter()
    for entry in search.search(params).get("entry", []):
        event = entry["resource"]
        subtype = event.get("subtype", [{}])[0].get("code", "?")
        types = {
            str(e.get("what", {}).get("reference", "")).split("/", 1)[0]
            for e in event.get("entity", [])
            if e.get("what", {}).get("reference")
        } - {"Patient", ""}
        for rtype in sorted(types) or ["Patient"]:
            done[f"{subtype} {rtype}"] += 1
    return [f"{what}: {n}" for what, n in sorted(done.items())]
