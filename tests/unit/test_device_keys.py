"""The device key hierarchy (ADR 0007): PIN and escrow wraps, the attempt counter, lockout,
PIN change, the device secret in a key store or a file, what keys.json may hold, and shredding.

Most tests use cheap argon2id costs (8 MiB, one pass) so the suite stays fast; one test runs the
default costs end to end. PINs, keys and secrets are generated at run time.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import keyring
import keyring.backends.fail
import pytest

from bedside.device import attachments, errors, keys, secret, wraps
from bedside.device.errors import DeviceError, KeysLocked, NotEnrolled, WrongPin
from bedside.device.keys import KdfParams, KeyFile, check_pin
from bedside.device.secret import ENV_KEYSTORE, SECRET_FILE

FAST = KdfParams(time_cost=1, memory_cost=8192)


def new_pin(length: int = 6) -> str:
    return "".join(secrets.choice("0123456789") for _ in range(length))


def other_pin(pin: str) -> str:
    while (candidate := new_pin()) == pin:
        pass
    return candidate


def key_json(home: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((home / "keys.json").read_text())
    return data


@pytest.fixture(autouse=True)
def file_keystore(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV_KEYSTORE, "file")


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "home"


def enrol(home: Path, pin: str, **kwargs: Any) -> tuple[KeyFile, bytes, bytes]:
    kwargs.setdefault("kdf", FAST)
    return KeyFile.create(
        home, user="u-" + secrets.token_hex(4), install_id=secrets.token_hex(16), pin=pin, **kwargs
    )


def isort_order(name: str) -> tuple[int, str]:
    """The order ruff's RUF022 keeps: CONSTANTS, then Classes, then functions."""
    return (0 if name.isupper() else 1 if name[0].isupper() else 2, name)


@pytest.mark.parametrize("module", [attachments, errors, keys, secret, wraps])
def test_public_api_is_sorted_and_complete(module: Any) -> None:
    assert module.__all__ == sorted(module.__all__, key=isort_order)
    assert all(hasattr(module, name) for name in module.__all__)
    defined = {
        name
        for name, value in vars(module).items()
        if not name.startswith("_") and getattr(value, "__module__", None) == module.__name__
    }
    assert defined <= set(module.__all__)


@pytest.mark.parametrize("pin", ["12345", "1234567890123", "12345a", "", " 123456", "١٢٣٤٥٦"])
def test_check_pin_refuses_anything_but_6_to_12_ascii_digits(pin: str) -> None:
    with pytest.raises(DeviceError, match="6 to 12 digits"):
        check_pin(pin)


def test_check_pin_accepts_6_and_12_digits() -> None:
    check_pin(new_pin(6))
    check_pin(new_pin(12))


def test_the_pin_unwraps_the_data_key_it_wrapped(home: Path) -> None:
    pin = new_pin()
    _, dk, ek = enrol(home, pin)
    assert len(dk) == len(ek) == 32 and dk != ek
    assert KeyFile.open(home).unlock(pin) == dk


def test_default_argon2id_costs_wrap_and_unwrap(home: Path) -> None:
    pin = new_pin(8)
    _, dk, _ = enrol(home, pin, kdf=KdfParams())
    kdf = key_json(home)["kdf"]
    assert (kdf["algorithm"], kdf["time_cost"], kdf["memory_cost"], kdf["parallelism"]) == (
        "argon2id",
        3,
        65536,
        1,
    )
    assert KeyFile.open(home).unlock(pin) == dk


def test_wrong_pins_count_down_then_delete_the_pin_wrap(home: Path) -> None:
    pin = new_pin()
    keyfile, _, _ = enrol(home, pin, pin_attempts=3)
    wrong = other_pin(pin)
    for left in (2, 1):
        with pytest.raises(WrongPin) as refused:
            keyfile.unlock(wrong)
        assert refused.value.attempts_left == left
        assert wrong not in str(refused.value)
        assert keyfile.status().attempts_left == left
    with pytest.raises(KeysLocked):
        keyfile.unlock(wrong)
    stored = key_json(home)
    assert "pin" not in stored and stored["locked"] is True and stored["failed"] == 3
    with pytest.raises(KeysLocked):
        KeyFile.open(home).unlock(pin)  # the right PIN no longer opens anything
    status = keyfile.status()
    assert (status.locked, status.attempts_left, status.reason) == (True, 0, "pin-attempts")


def test_a_right_pin_resets_the_counter(home: Path) -> None:
    pin = new_pin()
    keyfile, _, _ = enrol(home, pin, pin_attempts=2)
    with pytest.raises(WrongPin):
        keyfile.unlock(other_pin(pin))
    keyfile.unlock(pin)
    assert key_json(home)["failed"] == 0
    with pytest.raises(WrongPin) as refused:
        keyfile.unlock(other_pin(pin))
    assert refused.value.attempts_left == 1


def test_the_attempt_is_on_disk_before_the_derivation_answers(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Killing the app while the slow derivation runs must not take the guess back."""
    pin = new_pin()
    enrol(home, pin)
    seen: list[int] = []

    def killed(self: KdfParams, pin: str, salt: bytes) -> bytes:
        seen.append(key_json(home)["failed"])
        raise KeyboardInterrupt

    monkeypatch.setattr(KdfParams, "derive", killed)
    with pytest.raises(KeyboardInterrupt):
        KeyFile.open(home).unlock(other_pin(pin))
    assert seen == [1]
    monkeypatch.undo()
    monkeypatch.setenv(ENV_KEYSTORE, "file")
    assert KeyFile.open(home).status().failed == 1


def test_a_malformed_pin_costs_no_attempt(home: Path) -> None:
    keyfile, _, _ = enrol(home, new_pin())
    with pytest.raises(DeviceError, match="6 to 12 digits"):
        keyfile.unlock("12ab")
    assert keyfile.status().failed == 0


def test_escrow_opens_a_locked_device_and_a_new_pin_restores_pin_unlock(home: Path) -> None:
    pin = new_pin()
    keyfile, dk, ek = enrol(home, pin)
    keyfile.lock_out("snapshot-expired")
    assert keyfile.status().reason == "snapshot-expired"
    with pytest.raises(KeysLocked):
        keyfile.unlock(pin)
    with pytest.raises(DeviceError, match="does not open"):
        keyfile.unlock_with_escrow(secrets.token_bytes(32))
    assert keyfile.unlock_with_escrow(ek) == dk
    assert keyfile.status().locked  # the escrow key alone does not clear the lock
    fresh = other_pin(pin)
    keyfile.set_pin(dk, fresh)
    status = keyfile.status()
    assert (status.locked, status.failed, status.reason) == (False, 0, None)
    assert KeyFile.open(home).unlock(fresh) == dk


def test_changing_the_pin_rewraps_under_a_new_salt(home: Path) -> None:
    pin = new_pin()
    keyfile, dk, ek = enrol(home, pin)
    before = key_json(home)
    fresh = other_pin(pin)
    keyfile.set_pin(dk, fresh)
    after = key_json(home)
    assert after["pin"]["salt"] != before["pin"]["salt"]
    assert after["pin"]["ciphertext"] != before["pin"]["ciphertext"]
    assert after["escrow"] == before["escrow"]
    with pytest.raises(WrongPin):
        keyfile.unlock(pin)
    assert keyfile.unlock(fresh) == dk
    assert keyfile.unlock_with_escrow(ek) == dk


def test_set_pin_refuses_a_key_that_is_not_this_devices(home: Path) -> None:
    pin = new_pin()
    keyfile, dk, _ = enrol(home, pin)
    with pytest.raises(DeviceError, match="does not belong"):
        keyfile.set_pin(secrets.token_bytes(32), other_pin(pin))
    assert keyfile.unlock(pin) == dk


def test_another_device_secret_opens_nothing(home: Path, tmp_path: Path) -> None:
    pin = new_pin()
    _, dk, ek = enrol(home, pin)
    original = (home / SECRET_FILE).read_bytes()
    (home / SECRET_FILE).write_bytes(secrets.token_bytes(32))
    keyfile = KeyFile.open(home)
    with pytest.raises(WrongPin):
        keyfile.unlock(pin)
    with pytest.raises(DeviceError, match="does not open"):
        keyfile.unlock_with_escrow(ek)
    (home / SECRET_FILE).write_bytes(original)
    assert keyfile.unlock(pin) == dk


def test_a_key_file_edited_to_another_user_opens_nothing(home: Path) -> None:
    pin = new_pin()
    _, _, ek = enrol(home, pin)
    data = key_json(home)
    data["user"] = "u-" + secrets.token_hex(4)
    (home / "keys.json").write_text(json.dumps(data))
    keyfile = KeyFile.open(home)
    with pytest.raises(WrongPin):
        keyfile.unlock(pin)
    with pytest.raises(DeviceError):
        keyfile.unlock_with_escrow(ek)


def encodings(raw: bytes) -> list[bytes]:
    forms = [raw, raw.hex().encode(), raw.hex().upper().encode()]
    for encoded in (base64.b64encode(raw), base64.urlsafe_b64encode(raw)):
        forms += [encoded, encoded.rstrip(b"=")]
    return forms


def test_the_key_file_holds_no_key_or_pin(home: Path) -> None:
    pin = new_pin(12)
    keyfile, dk, ek = enrol(home, pin)
    ds = (home / SECRET_FILE).read_bytes()
    keyfile.set_pin(dk, pin)
    content = (home / "keys.json").read_bytes()
    for secret_value in (dk, ek, ds):
        for form in encodings(secret_value):
            assert form not in content
    assert pin.encode() not in content


def test_home_is_0700_and_key_files_are_0600(home: Path) -> None:
    home.mkdir()
    os.chmod(home, 0o755)  # noqa: S103 - a home that starts too open must be tightened
    enrol(home, new_pin())
    assert stat.S_IMODE(home.stat().st_mode) == 0o700
    for name in ("keys.json", SECRET_FILE):
        assert stat.S_IMODE((home / name).stat().st_mode) == 0o600
    assert sorted(p.name for p in home.iterdir()) == ["keys.json", SECRET_FILE]


def test_shred_overwrites_then_removes_keys_and_secret(home: Path) -> None:
    keyfile, _, _ = enrol(home, new_pin())
    kept: dict[str, bytes] = {}
    for name in ("keys.json", SECRET_FILE):
        kept[name] = (home / name).read_bytes()
        os.link(home / name, home / f"{name}.link")  # the same inode, to see the overwrite
    keyfile.shred()
    assert not (home / "keys.json").exists() and not (home / SECRET_FILE).exists()
    for name, content in kept.items():
        left = (home / f"{name}.link").read_bytes()
        assert len(left) == len(content) and left != content
    with pytest.raises(NotEnrolled):
        KeyFile.open(home)


def test_create_refuses_a_home_that_is_already_set_up(home: Path) -> None:
    pin = new_pin()
    keyfile, dk, _ = enrol(home, pin)
    with pytest.raises(DeviceError, match="already set up"):
        enrol(home, new_pin())
    assert keyfile.unlock(pin) == dk


def test_a_damaged_key_file_is_refused_with_a_sentence(home: Path) -> None:
    enrol(home, new_pin())
    data = key_json(home)
    data["escrow"]["nonce"] = "short"
    (home / "keys.json").write_text(json.dumps(data))
    with pytest.raises(DeviceError, match="damaged"):
        KeyFile.open(home)
    (home / "keys.json").write_text("{not json")
    with pytest.raises(DeviceError, match="damaged"):
        KeyFile.open(home)


def test_pin_attempt_limit_follows_the_snapshot(home: Path) -> None:
    pin = new_pin()
    keyfile, _, _ = enrol(home, pin)
    keyfile.set_pin_attempts(10)
    assert keyfile.status().attempts_left == 10
    with pytest.raises(WrongPin):
        keyfile.unlock(other_pin(pin))
    with pytest.raises(DeviceError):
        keyfile.set_pin_attempts(0)
    keyfile.set_pin_attempts(1)  # already spent: locks at once
    assert keyfile.status().locked and "pin" not in key_json(home)


def test_lock_out_takes_a_short_code_not_a_sentence(home: Path) -> None:
    keyfile, _, _ = enrol(home, new_pin())
    with pytest.raises(ValueError):
        keyfile.lock_out("Locked for a reason someone typed")
    assert not keyfile.status().locked


# --- the device secret in an OS key store -----------------------------------------------------


class MemoryKeyring(keyring.backend.KeyringBackend):
    """An in-process key store; viable only while a test enables it, so it never becomes
    anyone's default backend by accident."""

    enabled = False
    keep = True  # False: accept writes and keep nothing, like a broken backend

    @keyring.compat.properties.classproperty
    def priority(cls) -> float:
        if not cls.enabled:
            raise RuntimeError("test keyring not enabled")
        return 1

    def __init__(self) -> None:
        super().__init__()
        self.entries: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.entries.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        if self.keep:
            self.entries[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        self.entries.pop((service, username), None)


@pytest.fixture
def memory_keyring(monkeypatch: pytest.MonkeyPatch) -> Iterator[MemoryKeyring]:
    monkeypatch.delenv(ENV_KEYSTORE)
    previous = keyring.get_keyring()
    MemoryKeyring.enabled = True
    backend = MemoryKeyring()
    keyring.set_keyring(backend)
    try:
        yield backend
    finally:
        MemoryKeyring.enabled = False
        keyring.set_keyring(previous)


def test_the_secret_goes_to_the_key_store_when_one_is_usable(
    home: Path, memory_keyring: MemoryKeyring
) -> None:
    pin = new_pin()
    keyfile, dk, _ = enrol(home, pin)
    assert keyfile.status().secret_storage == "keyring"
    assert not (home / SECRET_FILE).exists()
    assert list(memory_keyring.entries) == [("bedside-device", keyfile.install_id)]
    assert KeyFile.open(home).unlock(pin) == dk
    keyfile.shred()
    assert memory_keyring.entries == {}


def test_a_vanished_key_store_is_refused_without_costing_an_attempt(
    home: Path, memory_keyring: MemoryKeyring
) -> None:
    pin = new_pin()
    keyfile, _, _ = enrol(home, pin)
    keyring.set_keyring(keyring.backends.fail.Keyring())
    with pytest.raises(errors.KeystoreUnavailable):
        keyfile.unlock(pin)
    assert keyfile.status().failed == 0


def test_env_forces_the_file_even_with_a_key_store(
    home: Path, memory_keyring: MemoryKeyring, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(ENV_KEYSTORE, "file")
    keyfile, _, _ = enrol(home, new_pin())
    assert keyfile.status().secret_storage == "file"
    assert memory_keyring.entries == {} and (home / SECRET_FILE).exists()


def test_a_key_store_that_keeps_nothing_falls_back_to_the_file(
    home: Path, memory_keyring: MemoryKeyring, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(MemoryKeyring, "keep", False)
    pin = new_pin()
    keyfile, dk, _ = enrol(home, pin)
    assert keyfile.status().secret_storage == "file"
    assert keyfile.unlock(pin) == dk


def test_no_usable_key_store_means_the_file_unless_keyring_is_required(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    previous = keyring.get_keyring()
    keyring.set_keyring(keyring.backends.fail.Keyring())
    try:
        assert secret.keyring_backend() is None
        monkeypatch.setenv(ENV_KEYSTORE, "keyring")
        with pytest.raises(errors.KeystoreUnavailable):
            enrol(home, new_pin())
        monkeypatch.setenv(ENV_KEYSTORE, "auto")
        assert enrol(home, new_pin())[0].status().secret_storage == "file"
    finally:
        keyring.set_keyring(previous)


def test_null_and_empty_chainer_key_stores_count_as_unusable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import keyring.backends.chainer
    import keyring.backends.null

    monkeypatch.setattr(keyring.backend, "get_all_keyring", list)
    previous = keyring.get_keyring()
    try:
        for backend in (keyring.backends.null.Keyring(), keyring.backends.chainer.ChainerBackend()):
            keyring.set_keyring(backend)
            assert secret.keyring_backend() is None
    finally:
        keyring.set_keyring(previous)


def test_an_unknown_keystore_setting_is_a_configuration_error(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bedside.errors import ConfigurationError

    monkeypatch.setenv(ENV_KEYSTORE, "vault")
    with pytest.raises(ConfigurationError):
        enrol(home, new_pin())
