"""Reading a Subscription request (Backport IG) and the rest-hook allow-list."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bedside.errors import BedsideError, InvalidRequest
from bedside.subscriptions.config import SubscriptionConfig, load
from bedside.subscriptions.spec import parse_subscription

FULL = "full-resource"
SD = "http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition"


def body(**channel: Any) -> dict[str, Any]:
    return {
        "resourceType": "Subscription",
        "criteria": "urn:bedside:subscription-topic:Observation",
        "channel": {"type": "rest-hook", "endpoint": "https://hooks.test/in", **channel},
    }


def test_a_full_request_is_read() -> None:
    b = body(
        header=["Authorization: Bearer x"],
        _payload={"extension": [{"url": f"{SD}/backport-payload-content", "valueCode": FULL}]},
        extension=[{"url": f"{SD}/backport-heartbeat-period", "valueUnsignedInt": 60}],
    )  # fmt: skip
    b["_criteria"] = {"extension": [{"url": f"{SD}/backport-filter-criteria",
                                     "valueString": "Observation?patient=Patient/p1"}]}  # fmt: skip
    spec = parse_subscription(b)
    assert (spec.rtype, spec.patient, spec.channel, spec.content, spec.heartbeat) == (
        "Observation", "p1", "rest-hook", "full-resource", 60)  # fmt: skip
    assert spec.headers == ("Authorization: Bearer x",)
    assert parse_subscription(body()).content == "id-only"  # the default


@pytest.mark.parametrize(
    "change",
    [
        {"criteria": "Observation?code=1"},
        {"criteria": "urn:bedside:subscription-topic:AuditEvent"},
        {"channel": {"type": "email"}},
        {"channel": {"type": "rest-hook", "endpoint": "file:///etc/passwd"}},
        {"channel": {"type": "rest-hook", "endpoint": "gopher://h/"}},
        {"channel": {"type": "rest-hook", "endpoint": "https://h/", "header": ["X: a\r\nY: b"]}},
        {"channel": {"type": "rest-hook", "endpoint": "https://h/", "payload": "text/xml"}},
        {
            "channel": {
                "type": "websocket",
                "extension": [{"url": f"{SD}/backport-heartbeat-period", "valueUnsignedInt": -1}],
            }
        },
        {
            "_criteria": {
                "extension": [
                    {
                        "url": f"{SD}/backport-filter-criteria",
                        "valueString": "Observation?patient=Patient/p1&code=x",
                    }
                ]
            }
        },
        {
            "_criteria": {
                "extension": [
                    {"url": f"{SD}/backport-filter-criteria", "valueString": "Condition?patient=p1"}
                ]
            }
        },
    ],
)
def test_anything_not_offered_is_a_400(change: dict[str, Any]) -> None:
    with pytest.raises(InvalidRequest):
        parse_subscription({**body(), **change})


def test_the_allow_list_matches_scheme_host_port_and_path_prefix(tmp_path: Path) -> None:
    assert not SubscriptionConfig().allows("https://hooks.test/in")  # default: none
    cfg = SubscriptionConfig(("https://hooks.test/fhir/",))
    assert cfg.allows("https://hooks.test/fhir/a")
    assert not cfg.allows("http://hooks.test/fhir/a")  # another scheme
    assert not cfg.allows("https://hooks.test:8443/fhir/a")  # another port
    assert not cfg.allows("https://hooks.test.evil/fhir/a")
    assert not cfg.allows("https://hooks.test/other")
    assert not cfg.allows("https://hooks.test:bad/fhir/")
    (tmp_path / "s.toml").write_text('rest_hook_endpoints = ["http://127.0.0.1:9/h/"]\n')
    assert load(tmp_path / "s.toml").allows("http://127.0.0.1:9/h/x")
    assert load(tmp_path / "missing.toml") == SubscriptionConfig()
    (tmp_path / "bad.toml").write_text('rest_hook_endpoints = ["ftp://h/"]\n')
    with pytest.raises(BedsideError):
        load(tmp_path / "bad.toml")
