"""A bounded fuzz run over the HTTP API: hostile input never reaches a 5xx (issue 13).

One real server on loopback per backend. Hypothesis generates resource bodies (valid skeletons
with arbitrary JSON mixed in), search parameters and modifiers, headers (ETags, conditional
criteria, content types, Prefer), paging cursors, OAuth forms and sync push bodies (garbage,
and correctly signed events carrying arbitrary resources), sent as an operator, as a confined
clinician and as an enrolled device. Every answer must be below 500 and, when it is an error on
the FHIR API, an OperationOutcome; at the end the server's log holds no traceback.

``BEDSIDE_FUZZ_EXAMPLES`` sets the examples per test (default 25, enough for ``make test``);
the nightly run sets it to 2000 (docs/security.md).
"""

from __future__ import annotations

import base64
import json
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bedside.fhir.search.registry import params_for
from bedside.protocol.event import format_time
from tests.conftest import BACKENDS
from tests.integration._smart import Smart, smart_server
from tests.integration._sync_world import (
    SCOPE,
    SyncDevice,
    enrol,
    new_ward,
    observation,
)

EXAMPLES = int(os.environ.get("BEDSIDE_FUZZ_EXAMPLES", "25"))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
TYPES = ["Patient", "Observation", "Condition", "CareTeam", "Consent", "Encounter", "Location"]
ODD_TYPES = ["Bundle", "Binary", "AuditEvent", "Provenance", "Task", "Nope", "patient", "$x"]


@dataclass
class Fuzzed:
    smart: Smart
    patient: str
    doctor: str  # a confined clinician's access token
    device: SyncDevice

    @property
    def log(self) -> Path:
        port = urlsplit(self.smart.fhir).port
        return self.smart.server.data_dir.parent / f"server-{port}.log"


@pytest.fixture(scope="module", params=BACKENDS)
def fuzzed(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Fuzzed]:
    with smart_server(tmp_path_factory, str(request.param)) as smart:
        ward, users = new_ward(smart, "doctor")
        doctor = smart.login("bedside-device", users[0][0], SCOPE)["access_token"]
        device = enrol(smart, new_ward(smart, "nurse")[1][0])
        yield Fuzzed(smart, ward.patient, doctor, device)


# --- strategies ------------------------------------------------------------------------------

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=40),
    st.sampled_from(["", "Patient/x", "urn:uuid:1", "2026-13-45", "gt2026", "\x00", "../..", "%"]),
)
json_values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=12), inner, max_size=4)
    ),
    max_leaves=20,
)


@st.composite
def resources(draw: st.DrawFn) -> Any:
    """A resource skeleton of a stored or an odd type, with arbitrary members mixed in; now and
    then not an object at all, or nested past the depth limit."""
    kind = draw(st.integers(0, 9))
    if kind == 0:
        return draw(json_values)
    if kind == 1:
        depth = draw(st.integers(90, 400))
        return {"resourceType": "Observation", "extension": json.loads("[" * depth + "]" * depth)}
    body: dict[str, Any] = {
        "resourceType": draw(st.sampled_from(TYPES + ODD_TYPES)),
        "status": draw(st.sampled_from(["final", "active", "in-progress", "inactive", "x", ""])),
        "subject": {"reference": draw(st.sampled_from(["Patient/p", "Patient/", "x", ""]))},
    }
    body.update(draw(st.dictionaries(st.text(max_size=15), json_values, max_size=4)))
    return body


def search_params(rtype: str) -> st.SearchStrategy[list[tuple[str, str]]]:
    known = sorted(params_for(rtype)) if rtype in TYPES else ["name"]
    names = st.one_of(
        st.sampled_from([*known, "_count", "_sort", "_include", "_revinclude", "_cursor"]),
        st.builds(
            lambda n, m: f"{n}:{m}",
            st.sampled_from(known),
            st.sampled_from(["exact", "missing", "not", "contains", "below", "text", "x", ""]),
        ),
        st.text(max_size=12),
    )
    values = st.one_of(
        st.text(max_size=30),
        st.builds(
            lambda p, v: p + v,
            st.sampled_from(["", "gt", "le", "sa", "ap", "eq", "ne"]),
            st.sampled_from(["2026", "2026-02-30", "1e400", "-1", "9" * 30, "T", "|", "a|b|c"]),
        ),
        st.integers(-(2**70), 2**70).map(str),
    )
    return st.lists(st.tuples(names, values), max_size=4)


cursors = st.one_of(
    st.text(max_size=60),
    st.binary(max_size=60).map(lambda b: base64.urlsafe_b64encode(b).decode().rstrip("=")),
    st.dictionaries(st.sampled_from(["s", "o", "k", "snapshot"]), json_values, max_size=3).map(
        lambda d: base64.urlsafe_b64encode(json.dumps(d).encode()).decode().rstrip("=")
    ),
)
header_values = st.text(
    alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=40
).map(str.strip)
path_text = st.text(
    alphabet=st.characters(min_codepoint=33, max_codepoint=0x2FFF, blacklist_categories=["Cs"]),
    max_size=70,
)
headers = st.fixed_dictionaries(
    {},
    optional={
        "If-Match": st.one_of(header_values, st.sampled_from(['W/"1"', 'W/"99999999999"', '"'])),
        "If-None-Exist": header_values,
        "If-None-Match": header_values,
        "Prefer": st.one_of(header_values, st.sampled_from(["return=minimal", "handling=strict"])),
        "Content-Type": st.sampled_from(
            ["application/fhir+json", "application/json", "text/plain", "application/xml", ""]
        ),
        "Accept": st.one_of(header_values, st.sampled_from(["application/fhir+xml", "*/*"])),
    },
)


# --- checks ----------------------------------------------------------------------------------


def sound(resp: httpx.Response, *, fhir: bool = True) -> None:
    """Below 500; on the FHIR API an error is an OperationOutcome."""
    assert resp.status_code < 500, (resp.request.method, resp.request.url, resp.text[:500])
    if fhir and resp.status_code >= 400 and resp.content:
        assert resp.json().get("resourceType") == "OperationOutcome", resp.text[:500]


def client(fuzzed: Fuzzed, token: str) -> httpx.Client:
    return httpx.Client(
        base_url=fuzzed.smart.fhir, headers={"Authorization": f"Bearer {token}"}, timeout=60.0
    )


def tokens(fuzzed: Fuzzed) -> st.SearchStrategy[str]:
    return st.sampled_from([fuzzed.smart.operator_token, fuzzed.doctor])


# --- the runs ----------------------------------------------------------------------------------


def test_writes_never_answer_5xx(fuzzed: Fuzzed) -> None:
    @FUZZ
    @given(
        token=tokens(fuzzed),
        method=st.sampled_from(["POST", "PUT", "PATCH"]),
        rtype=st.sampled_from(TYPES + ODD_TYPES),
        rid=st.one_of(st.sampled_from(["", "x", fuzzed.patient]), path_text),
        body=resources(),
        extra=headers,
    )
    def run(
        token: str, method: str, rtype: str, rid: str, body: Any, extra: dict[str, str]
    ) -> None:
        path = f"/{rtype}" + (f"/{rid}" if method != "POST" else "")
        with client(fuzzed, token) as c:
            content = json.dumps(body).encode()
            sound(c.request(method, path, content=content, headers=extra))

    run()


def test_searches_and_cursors_never_answer_5xx(fuzzed: Fuzzed) -> None:
    @FUZZ
    @given(
        token=tokens(fuzzed),
        rtype=st.sampled_from(TYPES + ODD_TYPES[:3]),
        data=st.data(),
        cursor=cursors,
        history=st.booleans(),
    )
    def run(token: str, rtype: str, data: st.DataObject, cursor: str, history: bool) -> None:
        params = data.draw(search_params(rtype))
        with client(fuzzed, token) as c:
            sound(c.get(f"/{rtype}", params=params))
            path = f"/{rtype}/_history" if history else f"/{rtype}"
            sound(c.get(path, params=[*params[:1], ("_cursor", cursor)]))
            form = httpx.QueryParams(params)
            sound(
                c.post(
                    f"/{rtype}/_search",
                    content=str(form),
                    headers={"Content-Type": "application/x-www-form-urlencoded"},
                )
            )

    run()


def test_transactions_never_answer_5xx(fuzzed: Fuzzed) -> None:
    entry = st.fixed_dictionaries(
        {
            "resource": resources(),
            "request": st.fixed_dictionaries(
                {
                    "method": st.sampled_from(["POST", "PUT", "DELETE", "GET", "PATCH", "X"]),
                    "url": st.one_of(st.sampled_from(TYPES), path_text),
                },
                optional={"ifMatch": header_values, "ifNoneExist": header_values},
            ),
        },
        optional={"fullUrl": st.one_of(st.text(max_size=20), st.just("urn:uuid:1"))},
    )

    @FUZZ
    @given(
        token=tokens(fuzzed),
        kind=st.sampled_from(["transaction", "batch", "collection", "x"]),
        entries=st.lists(st.one_of(entry, json_values), max_size=4),
    )
    def run(token: str, kind: str, entries: list[Any]) -> None:
        bundle = {"resourceType": "Bundle", "type": kind, "entry": entries}
        with client(fuzzed, token) as c:
            sound(c.post("", json=bundle))

    run()


def test_oauth_endpoints_never_answer_5xx(fuzzed: Fuzzed) -> None:
    root = fuzzed.smart.root
    fields = st.dictionaries(
        st.sampled_from(
            [
                "grant_type",
                "code",
                "refresh_token",
                "client_id",
                "client_secret",
                "redirect_uri",
                "code_verifier",
                "scope",
                "client_assertion",
                "client_assertion_type",
                "token",
            ]
        ),
        st.one_of(
            st.text(max_size=60),
            st.sampled_from(["refresh_token", "authorization_code", "client_credentials"]),
        ),
        max_size=6,
    )

    @FUZZ
    @given(
        path=st.sampled_from(["/auth/token", "/auth/revoke", "/auth/introspect", "/auth/register"]),
        form=fields,
        as_json=st.booleans(),
    )
    def run(path: str, form: dict[str, str], as_json: bool) -> None:
        if as_json:
            resp = httpx.post(f"{root}{path}", json=form, timeout=30.0)
        else:
            resp = httpx.post(f"{root}{path}", data=form, timeout=30.0)
        sound(resp, fhir=False)

    run()


def test_sync_push_never_answers_5xx(fuzzed: Fuzzed) -> None:
    device = fuzzed.device
    root = fuzzed.smart.root
    auth = {"Authorization": f"Bearer {device.access}"}

    @FUZZ
    @given(
        signed=st.lists(
            st.tuples(st.sampled_from(["create", "update", "x"]), resources()), max_size=3
        ),
        garbage=st.lists(json_values, max_size=2),
        top=st.dictionaries(st.sampled_from(["protocol", "device_time", "events"]), json_values),
        shape=st.integers(0, 2),
    )
    def run(
        signed: list[tuple[str, Any]], garbage: list[Any], top: dict[str, Any], shape: int
    ) -> None:
        if shape == 0:
            body: Any = top
        else:
            events: list[Any] = []
            for action, resource in signed:
                if not isinstance(resource, dict):
                    resource = observation(fuzzed.patient)
                try:
                    events.append(device.event(action, resource, patient=fuzzed.patient))
                except Exception:  # noqa: S112 - the device refuses to sign it: fine
                    continue
            body = {
                "protocol": 1,
                "device_time": format_time(time.time()),
                "events": events + (garbage if shape == 2 else []),
            }
        resp = httpx.post(f"{root}/sync/push", json=body, headers=auth, timeout=120.0)
        sound(resp, fhir=False)

    run()


def test_the_server_log_holds_no_traceback(fuzzed: Fuzzed) -> None:
    """Runs last in the module (pytest keeps file order): nothing above crashed a request."""
    log = fuzzed.log.read_text(encoding="utf-8", errors="replace")
    assert "Traceback" not in log, log[-4000:]
    assert "Exception in ASGI application" not in log, log[-4000:]
