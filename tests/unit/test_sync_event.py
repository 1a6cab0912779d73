"""The signed sync event: canonical bytes, Ed25519 signatures and field checks."""

from __future__ import annotations

import dataclasses
import json
import math
import random
import struct
from pathlib import Path
from typing import Any

import orjson
import pytest
import rfc8785
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from bedside.protocol.event import (
    Event,
    EventError,
    canonical,
    es_number,
    format_time,
    load_public_key,
    parse,
    parse_time,
    public_key_text,
    sign,
    verify,
)

KEY = Ed25519PrivateKey.generate()


def event(**changes: Any) -> Event:
    base = Event(
        device="dev-1",
        seq=7,
        idempotency_key="k" * 32,
        device_time="2026-11-21T10:00:00.250Z",
        user="user-9",
        patient="Patient/p1",
        action="create",
        resource_type="Observation",
        resource_id="o-1",
        base_version=None,
        resource={"resourceType": "Observation", "id": "o-1", "status": "final", "value": 1.5},
    )
    return dataclasses.replace(base, **changes)


def test_a_signed_event_verifies_and_parses_back_to_itself() -> None:
    signed = sign(event(), KEY)
    assert verify(signed, KEY.public_key()) == event()
    assert signed["v"] == 1 and signed["kind"] == "bedside-event"


def test_field_order_and_whitespace_do_not_change_the_signature() -> None:
    signed = sign(event(), KEY)
    shuffled = json.loads(json.dumps(dict(reversed(list(signed.items()))), indent=3))
    assert verify(shuffled, KEY.public_key()) == event()


def test_canonical_json_is_rfc8785() -> None:
    assert canonical({"b": 1, "a": [1.0, "é"], "c": None}) == b'{"a":[1,"\xc3\xa9"],"b":1,"c":null}'


@pytest.mark.parametrize(
    ("path", "value"),
    [
        (("seq",), 8),
        (("resource", "status"), "amended"),
        (("patient",), "Patient/p2"),
        (("device_time",), "2026-11-21T10:00:01.250Z"),
    ],
)
def test_changing_any_signed_field_breaks_the_signature(path: tuple[str, ...], value: Any) -> None:
    signed = sign(event(), KEY)
    target = signed
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = value
    with pytest.raises(EventError, match="signature does not match"):
        verify(signed, KEY.public_key())


def test_another_devices_key_does_not_verify_and_a_missing_signature_is_refused() -> None:
    signed = sign(event(), KEY)
    with pytest.raises(EventError, match="signature does not match"):
        verify(signed, Ed25519PrivateKey.generate().public_key())
    del signed["sig"]
    with pytest.raises(EventError, match="no signature"):
        verify(signed, KEY.public_key())


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"seq": 0}, "seq must be a whole number"),
        ({"seq": True}, "seq must be a whole number"),
        ({"idempotency_key": "short"}, "idempotency_key"),
        ({"device_time": "2026-11-21 10:00"}, "device_time"),
        ({"patient": "Group/g1"}, "patient must be Patient"),
        ({"action": "delete"}, "action must be one of"),
        ({"resource_type": "Observations"}, "not a FHIR R4 resource type"),
        ({"base_version": "3"}, "A create has no base_version"),
        ({"action": "update"}, "must have one"),
        ({"resource_id": "o-2"}, "does not match"),
        ({"user": ""}, "names no user"),
    ],
)
def test_malformed_fields_are_named(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(EventError, match=message):
        parse(event(**changes).body())


def test_unknown_and_missing_fields_and_other_versions_are_refused() -> None:
    body = event().body()
    with pytest.raises(EventError, match="unknown field extra"):
        parse({**body, "extra": 1})
    with pytest.raises(EventError, match="has no user"):
        parse({k: v for k, v in body.items() if k != "user"})
    with pytest.raises(EventError, match="version 1"):
        parse({**body, "v": 2})


def test_an_update_carries_its_base_version_and_purpose() -> None:
    update = event(action="update", base_version="3", purpose="BTG")
    assert verify(sign(update, KEY), KEY.public_key()) == update


def test_times_round_trip_to_the_millisecond() -> None:
    text = format_time(1_763_719_200.1234)
    assert text == "2025-11-21T10:00:00.123Z"
    assert parse_time(text) == pytest.approx(1_763_719_200.123)
    assert parse_time("2025-11-21T10:00:00+01:00") is None


def test_public_keys_round_trip_as_text_and_garbage_is_refused() -> None:
    text = public_key_text(KEY.public_key())
    assert len(text) == 43
    signed = sign(event(), KEY)
    assert verify(signed, load_public_key(text)) == event()
    with pytest.raises(EventError, match="not a base64url Ed25519 key"):
        load_public_key("not-a-key")


# --- the fast canonical path must be byte-for-byte RFC 8785 -----------------------------------

SAMPLES = Path(__file__).resolve().parents[3] / "shared" / "data" / "synthea-r4"


def test_fast_canonical_json_equals_rfc8785_for_every_sample_resource() -> None:
    files = sorted(SAMPLES.glob("*.json"))
    assert files, f"no sample bundles in {SAMPLES}"
    checked = 0
    for path in files:
        for entry in orjson.loads(path.read_bytes())["entry"]:
            resource = entry["resource"]
            assert canonical(resource) == rfc8785.dumps(resource), resource["resourceType"]
            checked += 1
    assert checked > 5000


def test_floats_print_as_ecmascript_does_across_the_whole_range() -> None:
    rng = random.Random(8785)
    edge = [0.1, 1.5, 123.0, 1e-7, 1e-6, 1e21, 1e20, 5e-324, 1.7976931348623157e308, -0.0]
    edge += [0.000001, 1.2345e-5, 37.2, -2.5e-10, 9007199254740993.0, 123456789012345680000.0]
    randoms = [struct.unpack("d", struct.pack("Q", rng.getrandbits(64)))[0] for _ in range(20000)]
    randoms += [round(rng.uniform(-500, 500), rng.randint(0, 5)) for _ in range(20000)]
    for value in edge + [v for v in randoms if math.isfinite(v)]:
        assert es_number(value) == rfc8785.dumps(value), repr(value)
    assert es_number(float("nan")) is None


@pytest.mark.parametrize(
    "body",
    [
        {"s": "\x00 a NUL sends it the slow way", "n": 1.5},
        {"clé": "a non-ASCII key", "n": 2.25},
        {"big": 2**60, "n": 0.5},
        {"text": '\x01\x1f"\\\u2028é😀\x7f', "list": [1, 2.5, None, True, {"b": 1e-7, "a": []}]},
    ],
)
def test_fast_and_slow_paths_agree_on_awkward_bodies(body: dict[str, Any]) -> None:
    try:
        expected = rfc8785.dumps(body)
    except rfc8785.CanonicalizationError:
        with pytest.raises(EventError, match="cannot be canonicalised"):
            canonical(body)
        return
    assert canonical(body) == expected


def test_a_body_nested_past_what_orjson_writes_is_an_event_error_not_a_crash() -> None:
    # issue 13, finding 10: orjson's JSONEncodeError escaped and failed the whole push
    nested: dict[str, Any] = {"v": 1}
    for _ in range(300):
        nested = {"n": [nested]}
    with pytest.raises(EventError, match="nests too deeply"):
        canonical({"resource": nested})
