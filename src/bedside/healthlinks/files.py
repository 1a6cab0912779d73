"""The files a SMART Health Link serves: JWE compact serialization, ``alg: dir``,
``enc: A256GCM``, with the link's key (SHL IG 1.0.0, "Encrypting and decrypting files").

The header carries ``cty``, the plaintext's content type. Bedside shares a FHIR Bundle
(``application/fhir+json;fhirVersion=4.0.1``). The server encrypts once, when the link is made,
and keeps only the ciphertext: the key is in the link, never in the database.
"""

from __future__ import annotations

import base64
from typing import Final

from joserfc import jwe
from joserfc.errors import JoseError
from joserfc.jwk import OctKey

from bedside.errors import InvalidRequest

__all__ = ["FHIR_JSON", "decrypt", "encrypt"]

FHIR_JSON: Final = "application/fhir+json;fhirVersion=4.0.1"


def _key(key_b64url: str) -> OctKey:
    raw = base64.urlsafe_b64decode(key_b64url + "=" * (-len(key_b64url) % 4))
    if len(raw) != 32:
        raise InvalidRequest("A SMART Health Link key is 32 bytes.")
    return OctKey.import_key(raw)


def encrypt(plaintext: bytes, key_b64url: str, content_type: str = FHIR_JSON) -> str:
    """``plaintext`` as a compact JWE under the link's key."""
    header = {"alg": "dir", "enc": "A256GCM", "cty": content_type}
    return jwe.encrypt_compact(header, plaintext, _key(key_b64url), algorithms=["dir", "A256GCM"])


def decrypt(token: str, key_b64url: str) -> tuple[str, bytes]:
    """(content type, plaintext) of a file; InvalidRequest if it is not ours to open."""
    try:
        found = jwe.decrypt_compact(token, _key(key_b64url), algorithms=["dir", "A256GCM"])
    except (JoseError, ValueError):
        raise InvalidRequest("The file could not be decrypted with this link's key.") from None
    header = found.protected
    if header.get("alg") != "dir" or header.get("enc") != "A256GCM":
        raise InvalidRequest("The file is not encrypted as SMART Health Links require.")
    return str(header.get("cty", "")), found.plaintext or b""
