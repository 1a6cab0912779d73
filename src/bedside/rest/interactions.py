"""FHIR interactions on one open store session (http.html).

:class:`Interactions` does the work of read, vread, create, update, patch, delete and their
conditional forms inside a session it is given: the Repository gives it a fresh session per
request, a transaction Bundle gives all its entries one session. Every method checks the caller's
grant first, then reads only what :class:`~bedside.rest.access.Access` lets the caller see: a
resource outside it is "not known" (404), and a write that would put a resource outside it is
refused (403) after the fact, which rolls the whole transaction back. Every write also passes
the rule that it may not widen its writer's access (:mod:`bedside.policy.guard`): it must reach
every patient it concerns, and a write of what policy reads is re-decided before it commits.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

import jsonpatch
import orjson

from bedside.errors import (
    Conflict,
    Forbidden,
    Gone,
    InvalidRequest,
    NotFound,
    PreconditionFailed,
    Unprocessable,
)
from bedside.fhir.compartment import patients_of
from bedside.fhir.dates import now_instant
from bedside.fhir.fhirpath_patch import fhirpath_patch
from bedside.fhir.merge_patch import merge_patch
from bedside.fhir.resource_types import NOT_STORED, is_resource_type
from bedside.fhir.search.extract import extract
from bedside.fhir.search.query import parse_search
from bedside.fhir.subset import is_subset_tagged
from bedside.fhir.validation import validate_resource
from bedside.numerals import is_number
from bedside.rest.access import Access, outside
from bedside.rest.links import bind_links
from bedside.store.base import Session, StoredVersion, Write

if TYPE_CHECKING:
    from bedside.rest.writes import WriteHooks

__all__ = ["MERGE_PATCH", "Interactions", "Outcome", "check_type", "load", "parse_etag"]

MERGE_PATCH = "application/merge-patch+json"
_ETAG_RE = re.compile(r'\s*(?:W/)?"(\d+)"\s*')


@dataclass(frozen=True, slots=True)
class Outcome:
    """What a write did: the stored version, its resource, and whether it was created."""

    version: StoredVersion
    resource: dict[str, Any] | None
    created: bool = False


def parse_etag(value: str) -> int:
    """``W/"3"`` → 3 (http.html#concurrency); a malformed ETag is a 400."""
    m = _ETAG_RE.fullmatch(value)
    if not m:
        raise InvalidRequest('If-Match must be an ETag such as W/"3".')
    return int(m.group(1))


def check_type(rtype: str) -> None:
    if not is_resource_type(rtype) or rtype in NOT_STORED:
        raise NotFound(f"Unknown resource type '{rtype}'.", code="not-supported")


def load(version: StoredVersion) -> dict[str, Any]:
    assert version.content is not None
    data: dict[str, Any] = orjson.loads(version.content)
    return data


class Interactions:
    def __init__(self, session: Session, access: Access, hooks: WriteHooks | None = None) -> None:
        self.session = session
        self.access = access
        self.caller = access.caller
        self.hooks = hooks  # consent rules, consent change feed, Provenance (bedside.rest.writes)

    # --- reads ---------------------------------------------------------------------------

    def read(self, rtype: str, rid: str) -> StoredVersion:
        """http.html#read: 404 when unknown, 410 when the current version is a delete."""
        check_type(rtype)
        self.access.require(rtype, "read")
        current = self.session.current(rtype, rid, visible=self.access.rows(rtype, "read"))
        if current is None:
            raise NotFound(f"{rtype}/{rid} is not known.")
        if current.deleted:
            raise Gone(f"{rtype}/{rid} was deleted.")
        return current

    def vread(self, rtype: str, rid: str, vid: str) -> StoredVersion:
        check_type(rtype)
        self.access.require(rtype, "vread")
        if not is_number(vid) or len(vid) > 9:  # versions are 32-bit integers in the store
            raise NotFound(f"{rtype}/{rid} has no version {vid}.")
        found = self.session.version(rtype, rid, int(vid), visible=self.access.rows(rtype, "vread"))
        if found is None:
            raise NotFound(f"{rtype}/{rid} has no version {vid}.")
        if found.deleted:
            raise Gone(f"Version {vid} of {rtype}/{rid} is a delete.")
        return found

    def find(self, rtype: str, query_text: str, *, lock: bool) -> list[StoredVersion]:
        """Resources matching a conditional query (at most 2: enough to tell one from many)."""
        self.access.require(rtype, "search")
        params = _query_pairs(query_text)
        if not params:
            raise InvalidRequest("A conditional request needs search parameters.")
        query = bind_links(parse_search(rtype, params), self.access)
        if lock:
            # Serialize every writer that asks the same question (http.html#ccreate).
            self.session.lock(f"cond:{rtype}?{sorted(params)}")
        snapshot = self.session.max_seq()
        visible = self.access.rows(rtype, "search")
        page = self.session.search(query, snapshot=snapshot, after=None, limit=2, visible=visible)
        return page.rows

    # --- writes --------------------------------------------------------------------------

    def create(
        self,
        rtype: str,
        body: Any,
        *,
        if_none_exist: str | None = None,
        new_id: str | None = None,
    ) -> Outcome:
        """http.html#create; with If-None-Exist a conditional create (http.html#ccreate)."""
        check_type(rtype)
        self.access.require(rtype, "create")
        validate_resource(body, expected_type=rtype)
        if if_none_exist:
            matches = self.find(rtype, if_none_exist, lock=True)
            if len(matches) > 1:
                raise PreconditionFailed("The If-None-Exist criteria match more than one resource.")
            if matches:
                return Outcome(matches[0], load(matches[0]), created=False)
        rid = new_id or str(uuid.uuid4())
        return self._store(rtype, rid, body, previous=None, method="POST")

    def update(
        self, rtype: str, rid: str, body: Any, *, if_match: str | None = None, method: str = "PUT"
    ) -> Outcome:
        """http.html#update, including create-on-update with a client-assigned id."""
        check_type(rtype)
        validate_resource(body, expected_type=rtype)
        if body.get("id") != rid:
            raise InvalidRequest(
                "The resource id in the body must match the id in the URL.",
                expression=(f"{rtype}.id",),
            )
        self.session.lock(f"res:{rtype}/{rid}")
        current = self.session.current(rtype, rid, for_update=True)
        exists = current is not None and not current.deleted
        interaction = "update" if exists else "create"
        self.access.require(rtype, interaction)
        if current is not None and not self._may(rtype, rid, interaction):
            self._invisible_target(rtype, rid, body)
        if if_match is not None:
            wanted = parse_etag(if_match)
            if current is None or current.version != wanted:
                have = "none" if current is None else current.version
                raise PreconditionFailed(
                    f"If-Match asked for version {wanted} but the current version is {have}."
                )
        return self._store(rtype, rid, body, previous=current, method=method)

    def conditional_update(self, rtype: str, query_text: str, body: Any) -> Outcome:
        """http.html#cond-update: no match creates, one match updates, several are an error."""
        check_type(rtype)
        validate_resource(body, expected_type=rtype)
        matches = self.find(rtype, query_text, lock=True)
        if len(matches) > 1:
            raise PreconditionFailed(
                "The conditional update criteria match more than one resource."
            )
        if matches:
            target = matches[0].id
            if body.get("id") not in (None, target):
                raise InvalidRequest("The body id does not match the resource the criteria found.")
            return self.update(rtype, target, {**body, "id": target})
        rid = body.get("id") or str(uuid.uuid4())
        if self.session.current(rtype, rid) is not None:
            raise Conflict(f"{rtype}/{rid} exists but does not match the criteria.")
        self.access.require(rtype, "create")
        return self._store(rtype, rid, {**body, "id": rid}, previous=None, method="PUT")

    def patch(
        self,
        rtype: str,
        rid: str,
        body: Any,
        *,
        if_match: str | None = None,
        content_type: str | None = None,
    ) -> Outcome:
        """http.html#patch: JSON Patch (RFC 6902) for an array body, JSON Merge Patch (RFC 7396)
        for an object (whatever JSON media type it came with: fhirpy sends merge patches as
        ``application/json``), FHIRPath Patch for a Parameters resource that is not sent as a
        merge patch (:mod:`bedside.fhir.fhirpath_patch`). The result is validated like an
        update."""
        check_type(rtype)
        self.access.require(rtype, "patch")
        merging = content_type == MERGE_PATCH or isinstance(body, dict)
        fhirpath = (
            content_type != MERGE_PATCH
            and isinstance(body, dict)
            and body.get("resourceType") == "Parameters"
        )
        if not merging and not isinstance(body, list):
            raise InvalidRequest("A JSON Patch body must be an array of operations.")
        self.session.lock(f"res:{rtype}/{rid}")
        current = self.session.current(rtype, rid, for_update=True)
        if current is None or not self._may(rtype, rid, "patch"):
            raise NotFound(f"{rtype}/{rid} is not known.")
        if current.deleted:
            raise Gone(f"{rtype}/{rid} was deleted.")
        if fhirpath:
            patched: Any = fhirpath_patch(load(current), body)
        elif merging:
            patched = merge_patch(load(current), body)
        else:
            try:
                patched = jsonpatch.apply_patch(load(current), body)
            except (jsonpatch.JsonPatchException, jsonpatch.JsonPointerException) as exc:
                raise Unprocessable(f"The patch cannot be applied: {exc}") from None
            except (TypeError, ValueError, KeyError):
                raise InvalidRequest("The JSON Patch document is malformed.") from None
        if (
            not isinstance(patched, dict)
            or patched.get("id") != rid
            or patched.get("resourceType") != rtype
        ):
            raise Unprocessable("A patch may not change the resource id or type.")
        return self.update(rtype, rid, patched, if_match=if_match, method="PATCH")

    def delete(self, rtype: str, rid: str) -> StoredVersion | None:
        """http.html#delete: a new version marked deleted; history keeps every earlier one."""
        check_type(rtype)
        self.access.require(rtype, "delete")
        self.session.lock(f"res:{rtype}/{rid}")
        current = self.session.current(rtype, rid, for_update=True)
        if current is None or current.deleted or not self._may(rtype, rid, "delete"):
            return None  # an invisible resource is deleted as if it did not exist
        self.access.check_patients(rtype, "delete", load(current))
        if self.hooks is not None:
            self.hooks.before(rtype, current, None)
        write = Write(
            type=rtype,
            id=rid,
            version=current.version + 1,
            deleted=True,
            last_updated=now_instant(),
            method="DELETE",
            content=None,
            index=None,
            rid=current.rid,
        )
        (seq,) = self.session.apply([write])
        self.access.check_not_widened(rtype, self.session.records())
        stored = _stored(write, current.rid, seq)
        if self.hooks is not None:
            self.hooks.after(self.session, stored, None, current)
        return stored

    def conditional_delete(self, rtype: str, query_text: str) -> StoredVersion | None:
        matches = self.find(rtype, query_text, lock=True)
        if len(matches) > 1:
            raise PreconditionFailed(
                "The conditional delete criteria match more than one resource."
            )
        return self.delete(rtype, matches[0].id) if matches else None

    def _invisible_target(self, rtype: str, rid: str, body: dict[str, Any]) -> None:
        """A PUT to an id the caller cannot see answers as a create of that id would, so the
        answer does not say whether it exists: 403 when the body lies outside what the caller
        may change; otherwise 409, as the id is taken (docs/api.md "Limits")."""
        self.access.require(rtype, "create")
        allowed = self.access.changeable(rtype, "create")
        if allowed is not None and not (
            set(patients_of(body)) and set(patients_of(body)) <= allowed
        ):
            raise outside(rtype)
        raise Conflict(f"{rtype}/{rid} cannot be created here: that id is already in use.")

    def _may(self, rtype: str, rid: str, interaction: str) -> bool:
        """Whether the caller may apply ``interaction`` to the stored ``rtype/rid``.

        False when it cannot see the resource at all (the caller then answers as if it did not
        exist); Forbidden when it may read it but not change it.
        """
        visible = self.access.rows(rtype, interaction)
        if visible is None or self.session.current(rtype, rid, visible=visible) is not None:
            return True
        readable = self.access.rows(rtype, "read")
        if readable is None or self.session.current(rtype, rid, visible=readable) is not None:
            raise Forbidden(f"The access token does not allow {interaction} on this {rtype}.")
        return False

    def _readable(self, rtype: str, rid: str, version: int | None) -> dict[str, Any] | None:
        """A stored resource as the caller may read it (a version, or the current one), or None
        when it is missing, deleted or not visible: what a write's clinical checks may read."""
        if version is None:
            found = self.session.current(rtype, rid, visible=self.access.rows(rtype, "read"))
        else:
            visible = self.access.rows(rtype, "vread")
            found = self.session.version(rtype, rid, version, visible=visible)
        return None if found is None or found.deleted else load(found)

    def _store(
        self,
        rtype: str,
        rid: str,
        body: dict[str, Any],
        *,
        previous: StoredVersion | None,
        method: str,
    ) -> Outcome:
        """Write a new version; refuse (and so roll back) a result the caller could not see."""
        if is_subset_tagged(body):
            raise Unprocessable(
                "This resource is marked SUBSETTED (_summary or _elements left parts out);"
                " read it whole before writing it back.",
                expression=(f"{rtype}.meta.tag",),
            )
        created = previous is None or previous.deleted
        interaction = "create" if created else "update"
        visible = self.access.rows(rtype, interaction)
        if visible is not None and visible.nothing:
            raise outside(rtype)
        replaced = None if previous is None or previous.deleted else load(previous)
        self.access.check_patients(rtype, interaction, body, replaced)
        version = previous.version + 1 if previous is not None else 1
        resource = dict(body)
        resource["id"] = rid
        meta = dict(resource.get("meta") or {})
        meta["versionId"] = str(version)
        meta["lastUpdated"] = now_instant()
        resource["meta"] = meta
        if self.hooks is not None:
            self.hooks.before(rtype, previous, resource, read=self._readable)
        write = Write(
            type=rtype,
            id=rid,
            version=version,
            deleted=False,
            last_updated=meta["lastUpdated"],
            method=method,
            content=orjson.dumps(resource),
            index=extract(resource),
            rid=previous.rid if previous is not None else None,
        )
        (seq,) = self.session.apply([write])
        if visible is not None and self.session.current(rtype, rid, visible=visible) is None:
            raise outside(rtype)  # the caller's transaction rolls back: nothing is stored
        self.access.check_not_widened(rtype, self.session.records())
        stored = _stored(write, write.rid or 0, seq)
        if self.hooks is not None:
            self.hooks.after(self.session, stored, resource, previous)
        return Outcome(stored, resource, created=created)


def _stored(write: Write, rid: int, seq: int) -> StoredVersion:
    return StoredVersion(
        rid=rid,
        type=write.type,
        id=write.id,
        version=write.version,
        deleted=write.deleted,
        last_updated=write.last_updated,
        seq=seq,
        method=write.method,
        content=write.content,
    )


def _query_pairs(text: str) -> list[tuple[str, str]]:
    return parse_qsl(text.lstrip("?"), keep_blank_values=True)
