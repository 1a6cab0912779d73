"""Wound photos on a real device store (SQLCipher, encrypted attachment files): a photo and
its signed DocumentReference are saved together, the signed event carries the SHA-256 and
size, the photo is due for upload only once the server confirmed its record, and a photo that
cannot be kept saves nothing at all."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from bedside.auth.keys import SigningKeys
from bedside.device.errors import DeviceError
from bedside.device.photos import MAX_BYTES
from bedside.device.secret import ENV_KEYSTORE
from bedside.policy.rules import PolicyRules
from tests.integration._device_world import RULES, Clock, World, enroll, patient
from tests.integration._outbox import settle, take
from tests.integration.test_device_node import keys as keys

POLICY = Path(__file__).resolve().parents[2] / "src" / "bedside" / "policy" / "default.toml"

PNG = b"\x89PNG\r\n\x1a\n" + secrets.token_bytes(300)


@pytest.fixture
def world(tmp_path: Path, keys: SigningKeys, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    monkeypatch.setenv(ENV_KEYSTORE, "file")
    w = enroll(tmp_path / "home", keys, Clock())
    w.node.receive([patient("p1", "Alba Quennell")])
    yield w
    w.node.lock()


def test_a_photo_is_saved_with_its_record_and_is_due_only_once_the_record_is_confirmed(
    world: World,
) -> None:
    node = world.node
    made = node.attach_photo("p1", PNG, "  Left   heel ")
    [photo] = node.photos("p1")
    assert (photo.document, photo.description, photo.state) == (
        made.id,
        "Left heel",
        "saved-on-device",
    )
    [entry] = node.outbox()
    signed = entry.event["resource"]["content"][0]["attachment"]
    assert signed["url"] == f"Binary/{photo.attachment}"
    assert signed["extension"][0]["valueString"] == hashlib.sha256(PNG).hexdigest()
    assert PNG not in b"".join(p.read_bytes() for p in world.home.rglob("*") if p.is_file())
    assert node.attachments_due() == []  # the record is not confirmed yet

    [sending] = take(node, 10)
    settle(node, sending.seq, {"state": "confirmed", "version": "1"})
    [due] = node.attachments_due()
    assert (due.id, due.document) == (photo.attachment, made.id)
    assert node.attachment_payload(due.id) == PNG
    node.attachment_synced(due.id)
    assert node.attachments_due() == [] and node.photos("p1")[0].state == "sent"


@pytest.mark.parametrize(
    ("data", "text", "words"),
    [
        (b"", "Heel", "Choose or take a photo first."),
        (b"just text", "Heel", "not a photo Bedside can keep"),
        (b"\xff\xd8\xff" + b"0" * MAX_BYTES, "Heel", "larger than 10 MB"),
        (PNG, "   ", "Add a short description"),
    ],
)
def test_a_photo_that_cannot_be_kept_saves_nothing(
    world: World, data: bytes, text: str, words: str
) -> None:
    node = world.node
    with pytest.raises(DeviceError, match=words):
        node.attach_photo("p1", data, text)
    assert node.outbox() == [] and node.photos("p1") == []
    assert not list((world.home / "attachments").glob("*.bin"))


def test_the_app_offers_photos_and_consent_only_to_roles_that_may_create_them(
    tmp_path: Path, keys: SigningKeys, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(ENV_KEYSTORE, "file")
    # a policy whose nurses read documents and consents but do not write them
    text = POLICY.read_text("utf-8").replace('DocumentReference = "crs", Consent = "crs", ', "")
    assert text != POLICY.read_text("utf-8")
    (tmp_path / "policy.toml").write_text(text)
    rules = replace(PolicyRules.load(tmp_path / "policy.toml"), offline=RULES.offline)
    nurse = enroll(tmp_path / "nurse", keys, Clock(), role="nurse", rules=rules).node
    try:
        assert not nurse.may_create("DocumentReference") and not nurse.may_create("Consent")
        assert nurse.may_create("Observation")
        nurse.receive([patient("p1", "Alba Quennell")])
        with pytest.raises(DeviceError, match="DocumentReference"):
            nurse.attach_photo("p1", PNG, "Heel")
        assert nurse.outbox() == [] and not list((tmp_path / "nurse").rglob("*.bin"))
    finally:
        nurse.lock()


def test_a_doctor_may_create_both(world: World) -> None:
    assert world.node.may_create("DocumentReference") and world.node.may_create("Consent")
