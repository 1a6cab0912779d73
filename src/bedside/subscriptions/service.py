"""``/fhir/Subscription`` inside the caller's Repository transaction (Backport IG operations).

* ``POST Subscription`` creates one (:mod:`.spec`): the token must allow creating a
  Subscription and searching the topic's type (scopes and role, as any write), and a rest-hook
  endpoint must be on the allow-list (:mod:`.config`). Its events start at the change-feed
  horizon of the creating transaction.
* ``GET Subscription`` (the caller's own), ``GET`` and ``DELETE Subscription/<id>``.
* ``Subscription/<id>/$status``, ``$events?eventsSinceNumber=&eventsUntilNumber=&content=``
  (replay, with access decided again now) and ``POST $get-ws-binding-token``.

A Subscription belongs to the client and user that created it: anyone else is told it does
not exist (404). Each interaction is audited by the Repository's trail.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Final

from bedside.errors import InvalidRequest, MethodNotAllowed, NotFound
from bedside.fhir.outcome import information
from bedside.numerals import is_number
from bedside.rest.types import FhirRequest, FhirResponse
from bedside.store.base import Session
from bedside.store.feed import FeedSql
from bedside.subscriptions import records
from bedside.subscriptions.config import SubscriptionConfig
from bedside.subscriptions.events import notification, status_parameters, visible
from bedside.subscriptions.records import SubscriptionRow
from bedside.subscriptions.spec import BACKPORT, CONTENTS, parse_subscription

if TYPE_CHECKING:
    from bedside.rest.repository import Repository

__all__ = [
    "MAX_EVENTS",
    "OPERATIONS",
    "WS_TOKEN_SECONDS",
    "SubscriptionService",
    "capability_entry",
    "owner_of",
]

#: (name, definition URL) of the Subscription operations, for the CapabilityStatement.
OPERATIONS: Final = (
    ("status", f"{BACKPORT}/OperationDefinition/backport-subscription-status"),
    ("events", f"{BACKPORT}/OperationDefinition/backport-subscription-events"),
    (
        "get-ws-binding-token",
        f"{BACKPORT}/OperationDefinition/backport-subscription-get-ws-binding-token",
    ),
)
WS_TOKEN_SECONDS: Final = 300
MAX_EVENTS: Final = 500


def owner_of(subject: str, client_id: str | None) -> str:
    return f"{client_id or ''} {subject}"


class SubscriptionService:
    def __init__(self, base: str, config: SubscriptionConfig, websocket_url: str) -> None:
        self.base = base.rstrip("/")
        self.config = config
        self.websocket_url = websocket_url

    def handle(
        self, repo: Repository, session: Session, parts: list[str], req: FhirRequest
    ) -> FhirResponse:
        m = req.method
        if m == "PUT-NEW":  # a transaction's POST entry, given an id in advance
            raise InvalidRequest(
                "Create a Subscription with POST Subscription, not inside a transaction."
            )
        if len(parts) == 1 and m == "POST":
            return self.create(repo, session, req)
        if len(parts) == 1 and m == "GET":
            if set(dict(req.query)) - {"_format", "_pretty"} and not req.lenient:
                raise InvalidRequest(
                    "Subscriptions cannot be searched by parameter: GET Subscription lists"
                    " the caller's own."
                )
            return self.search(repo, session)
        if len(parts) >= 2 and parts[1].startswith("$"):
            raise NotFound(f"Operation {parts[1]} is not supported on the Subscription type.")
        sub = self._own(repo, session, parts[1] if len(parts) > 1 else "")
        if len(parts) == 2 and m in ("GET", "HEAD"):
            repo.trail.note("read", rtype="Subscription", entities=[f"Subscription/{sub.id}"])
            return FhirResponse(200, self.resource(sub))
        if len(parts) == 2 and m == "DELETE":
            records.delete(session.records(), sub.id)
            repo.trail.note("delete", rtype="Subscription", entities=[f"Subscription/{sub.id}"])
            return FhirResponse(200, information(f"Subscription/{sub.id} deleted."))
        if len(parts) == 3 and parts[2] == "$status" and m in ("GET", "POST"):
            repo.trail.note("operation", rtype="Subscription", entities=[f"Subscription/{sub.id}"],
                            description="subscription $status")  # fmt: skip
            status = status_parameters(self.base, sub, "query-status", [])
            return FhirResponse(200, {"resourceType": "Bundle", "type": "searchset", "total": 1,
                                      "entry": [{"resource": status,
                                                 "search": {"mode": "match"}}]})  # fmt: skip
        if len(parts) == 3 and parts[2] == "$events" and m in ("GET", "POST"):
            return self.events(repo, session, sub, req)
        if len(parts) == 3 and parts[2] == "$get-ws-binding-token" and m == "POST":
            return self.ws_token(repo, session, sub)
        if len(parts) == 2 and m in ("PUT", "PATCH"):
            raise MethodNotAllowed(
                "A Subscription cannot be changed: delete it and create another."
            )
        raise MethodNotAllowed(f"{m} is not supported on {req.path}.")

    def _own(self, repo: Repository, session: Session, sid: str) -> SubscriptionRow:
        sub = records.get(session.records(), sid) if sid else None
        owner = owner_of(repo.caller.subject, repo.caller.client_id)
        if sub is None or not secrets.compare_digest(sub.owner, owner):
            raise NotFound(f"Subscription/{sid} is not known.")
        return sub

    def resource(self, sub: SubscriptionRow) -> dict[str, Any]:
        body = dict(sub.resource)
        body["id"] = sub.id
        body["status"] = sub.status
        return body

    def create(self, repo: Repository, session: Session, req: FhirRequest) -> FhirResponse:
        spec = parse_subscription(req.body)
        repo.access.require("Subscription", "create")
        repo.access.require(spec.rtype, "search")
        if spec.endpoint is not None and not self.config.allows(spec.endpoint):
            raise InvalidRequest(
                "This server does not send notifications to that endpoint: an administrator"
                " must allow it first (docs/subscriptions.md, rest_hook_endpoints)."
            )
        db = session.records()
        horizon = FeedSql(repo.store.dialect).horizon(db)  # events start here
        sid = secrets.token_hex(12)
        status = "active" if spec.channel == "websocket" else "requested"
        kept = {k: v for k, v in req.body.items() if k not in ("id", "meta", "status", "text")}
        owner = owner_of(repo.caller.subject, repo.caller.client_id)
        now = repo.policy.clock()
        records.insert(db, sid, owner, repo.caller.to_record(), kept, spec, status,
                       (horizon, -1), now)  # fmt: skip
        sub = records.get(db, sid)
        assert sub is not None
        repo.trail.note("create", rtype="Subscription", entities=[f"Subscription/{sid}"])
        return FhirResponse(201, self.resource(sub), location=f"{self.base}/Subscription/{sid}")

    def search(self, repo: Repository, session: Session) -> FhirResponse:
        owner = owner_of(repo.caller.subject, repo.caller.client_id)
        found = records.of_owner(session.records(), owner)
        repo.trail.note("search-type", rtype="Subscription",
                        entities=[f"Subscription/{s.id}" for s in found])  # fmt: skip
        entry = [
            {"fullUrl": f"{self.base}/Subscription/{s.id}", "resource": self.resource(s),
             "search": {"mode": "match"}}
            for s in found
        ]  # fmt: skip
        return FhirResponse(
            200,
            {"resourceType": "Bundle", "type": "searchset", "total": len(found), "entry": entry},
        )

    def events(
        self, repo: Repository, session: Session, sub: SubscriptionRow, req: FhirRequest
    ) -> FhirResponse:
        """Replay by event number: each event re-checked against the caller's access now."""
        args = dict(req.query)
        since = _number(args.get("eventsSinceNumber"), "eventsSinceNumber", 1)
        until = _number(args.get("eventsUntilNumber"), "eventsUntilNumber", sub.events)
        if until < since:
            raise InvalidRequest("eventsUntilNumber is before eventsSinceNumber.")
        content = args.get("content", sub.spec.content)
        if content not in CONTENTS:
            raise InvalidRequest("content must be empty, id-only or full-resource.")
        found = records.events(session.records(), sub.id, since, min(until, sub.events), MAX_EVENTS)
        notices = [n for e in found if (n := visible(session, repo.access, sub.spec, e))]
        body = notification(self.base, sub, "query-event", notices, now=repo.policy.clock(),
                            content=content)  # fmt: skip
        repo.trail.note(
            "operation",
            rtype=sub.spec.rtype,
            resources=[n.resource for n in notices],
            entities=[f"Subscription/{sub.id}"],
            description=f"subscription $events replayed {len(notices)} events",
        )
        return FhirResponse(200, body)

    def ws_token(self, repo: Repository, session: Session, sub: SubscriptionRow) -> FhirResponse:
        if sub.spec.channel != "websocket":
            raise InvalidRequest("This Subscription's channel is not a websocket.")
        token = secrets.token_urlsafe(32)
        expires = repo.policy.clock() + WS_TOKEN_SECONDS
        records.add_ws_token(session.records(), token, sub.id, expires)
        repo.trail.note("operation", rtype="Subscription", entities=[f"Subscription/{sub.id}"],
                        description="subscription websocket binding token issued")  # fmt: skip
        when = datetime.fromtimestamp(expires, UTC).isoformat(timespec="seconds")
        return FhirResponse(200, {"resourceType": "Parameters", "parameter": [
            {"name": "token", "valueString": token},
            {"name": "expiration", "valueDateTime": when},
            {"name": "subscription", "valueString": f"{self.base}/Subscription/{sub.id}"},
            {"name": "websocket-url", "valueUrl": self.websocket_url},
        ]})  # fmt: skip


def _number(text: str | None, name: str, default: int) -> int:
    if text is None:
        return default
    if not is_number(text) or len(text) > 18:
        raise InvalidRequest(f"{name} must be a whole number.")
    return int(text)


def capability_entry() -> dict[str, Any]:
    """``rest.resource`` for Subscription: what is served, its operations and the topics."""
    from bedside.subscriptions.spec import topic_types, topic_url

    topic_ext = f"{BACKPORT}/StructureDefinition/capabilitystatement-subscriptiontopic-canonical"
    return {
        "type": "Subscription",
        "supportedProfile": [f"{BACKPORT}/StructureDefinition/backport-subscription"],
        "extension": [{"url": topic_ext, "valueCanonical": topic_url(t)} for t in topic_types()],
        "interaction": [{"code": c} for c in ("read", "create", "delete", "search-type")],
        "operation": [{"name": name, "definition": url} for name, url in OPERATIONS],
    }
