"""The SMART Health Link payload and files against the SHL IG 1.0.0 rules (bedside.healthlinks)."""

from __future__ import annotations

import base64
from typing import Any

import orjson
import pytest
from joserfc import jwe
from joserfc.jwk import OctKey

from bedside.errors import InvalidRequest
from bedside.healthlinks import files, payload

URL = "https://bedside.example/shl/m/" + "A" * 43


def _decode(link: str) -> dict[str, Any]:
    body = link.removeprefix("shlink:/")
    decoded: dict[str, Any] = orjson.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    return decoded


def test_a_built_link_is_shlink_base64url_json_with_the_igs_fields() -> None:
    made = payload.build(URL, exp=1_900_000_000, passcode=True, label="Blood tests for Dr B")
    link = made.uri()
    assert link.startswith("shlink:/")
    assert "=" not in link and "+" not in link and "/" not in link.removeprefix("shlink:/")
    body = _decode(link)
    assert body == {
        "url": URL,
        "key": made.key,
        "exp": 1_900_000_000,
        "flag": "P",
        "label": "Blood tests for Dr B",
        "v": 1,
    }


def test_the_key_is_32_random_bytes_in_43_base64url_characters() -> None:
    keys = {payload.new_key() for _ in range(50)}
    assert len(keys) == 50
    for key in keys:
        assert len(key) == 43
        assert len(base64.urlsafe_b64decode(key + "=")) == 32


def test_no_passcode_means_no_p_flag_and_no_label_is_left_out() -> None:
    body = _decode(payload.build(URL, exp=None, passcode=False, label=None).uri())
    assert "flag" not in body and "label" not in body and "exp" not in body


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"key": "short"}, "32 bytes"),
        ({"key": payload.b64url(b"x" * 33)}, "32 bytes"),
        ({"key": "+" * 43}, "32 bytes"),
        ({"label": "x" * 81}, "80 characters"),
        ({"flag": "PU"}, "direct file"),
        ({"flag": "PL"}, "alphabetical"),
        ({"flag": "X"}, "L, P and U"),
        ({"url": "ftp://x/y"}, "http(s)"),
        ({"url": "https://x/" + "a" * 130}, "128"),
        ({"exp": "tomorrow"}, "seconds since 1970"),
        ({"v": 2}, "version 1"),
    ],
)
def test_payloads_that_break_a_rule_are_refused(change: dict[str, Any], words: str) -> None:
    good = payload.build(URL, exp=1, passcode=True, label="ok").as_json()
    with pytest.raises(InvalidRequest) as err:
        payload.check({**good, **change})
    assert words in err.value.message


def test_an_80_character_label_and_flags_lp_are_accepted() -> None:
    good = payload.build(URL, exp=1, passcode=True, label="x" * 80).as_json()
    assert payload.check({**good, "flag": "LP"}).flag == "LP"


def test_parse_reads_a_link_after_a_viewer_prefix() -> None:
    made = payload.build(URL, exp=5, passcode=False, label="L")
    assert payload.parse(f"https://viewer.example/view#{made.uri()}") == made
    assert payload.parse(made.uri()) == made
    with pytest.raises(InvalidRequest):
        payload.parse("https://viewer.example/view#nothing")


def test_a_file_is_compact_jwe_dir_a256gcm_that_opens_with_the_link_key() -> None:
    key = payload.new_key()
    token = files.encrypt(b'{"resourceType": "Bundle"}', key)
    parts = token.split(".")
    assert len(parts) == 5 and parts[1] == ""  # compact; dir: no encrypted key
    header = orjson.loads(base64.urlsafe_b64decode(parts[0] + "=" * (-len(parts[0]) % 4)))
    assert header == {"alg": "dir", "enc": "A256GCM", "cty": files.FHIR_JSON}
    assert len(base64.urlsafe_b64decode(parts[2] + "=" * (-len(parts[2]) % 4))) == 12  # GCM IV
    # An independent decryption with the raw key, as any SHL receiver would do it.
    raw = base64.urlsafe_b64decode(key + "=")
    found = jwe.decrypt_compact(token, OctKey.import_key(raw), algorithms=["dir", "A256GCM"])
    assert found.plaintext == b'{"resourceType": "Bundle"}'
    assert files.decrypt(token, key) == (files.FHIR_JSON, b'{"resourceType": "Bundle"}')


def test_a_file_does_not_open_with_another_key() -> None:
    token = files.encrypt(b"{}", payload.new_key())
    with pytest.raises(InvalidRequest):
        files.decrypt(token, payload.new_key())
