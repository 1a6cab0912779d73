"""``upstream.toml``: the EHRs Bedside ingests from, checked whole at start (docs/upstream.md).

Like ``policy.toml`` the file lives in the data dir (or is named with ``--upstream FILE``) and
a mistake stops the start with one sentence naming the table and the setting. Secrets never
live in the file: a bearer token is read from an environment variable or a file, a SMART
backend-services key from a PEM file, each named by the configuration.
"""

from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final
from urllib.parse import urlparse

from bedside.errors import ConfigurationError
from bedside.fhir.resource_types import is_resource_type

__all__ = [
    "DATA_CLASSES",
    "DEFAULT_TYPES",
    "FhirSource",
    "Hl7Source",
    "Source",
    "UpstreamConfig",
    "UpstreamError",
    "load",
    "parse",
]

#: What ``[authority]`` may name: the data classes an upstream value belongs to.
DATA_CLASSES: Final = {
    "patient": ("Patient", "RelatedPerson"),
    "encounter": ("Encounter",),
    "observation": ("Observation", "DiagnosticReport"),
    "condition": ("Condition",),
    "allergy": ("AllergyIntolerance",),
}
#: What a FHIR source is pulled for when ``types`` is not set (Patient first: others refer to it).
DEFAULT_TYPES: Final = (
    "Patient",
    "Encounter",
    "Observation",
    "Condition",
    "AllergyIntolerance",
    "DiagnosticReport",
)
_NAME: Final = re.compile(r"[a-z][a-z0-9-]{0,31}")
_DURATION: Final = re.compile(r"(\d+)([smh])")


class UpstreamError(ConfigurationError):
    """``upstream.toml`` cannot be used as written, or a source cannot be reached."""


@dataclass(frozen=True, slots=True)
class FhirSource:
    """A FHIR R4 server pulled by Bulk Data ``$export`` where offered, else by history/search."""

    name: str
    base_url: str
    system: str  # meta.source and the identifier system of source ids
    types: tuple[str, ...] = DEFAULT_TYPES
    page_size: int = 100
    interval: int | None = None  # seconds between pulls of `upstream run --every`
    token_env: str | None = None
    token_file: Path | None = None
    client_id: str | None = None  # SMART backend services (client_credentials, private_key_jwt)
    token_url: str | None = None
    private_key: Path | None = None
    key_id: str | None = None  # the kid the source registered for the key
    scope: str = "system/*.rs"
    patient_identifiers: tuple[str, ...] = ()  # identifier systems that match patients
    kind: str = "fhir"
    label: str = ""  # the name people know it by, shown beside its values (default: name)

    def bearer(self) -> str | None:
        """The configured bearer token, read now (so a rotated token is picked up)."""
        if self.token_env:
            value = os.environ.get(self.token_env, "").strip()
            if not value:
                raise UpstreamError(
                    f"Source {self.name}: the environment variable {self.token_env} is empty."
                )
            return value
        if self.token_file:
            try:
                return self.token_file.read_text("utf-8").strip()
            except OSError as exc:
                raise UpstreamError(
                    f"Source {self.name}: cannot read the token file ({exc.strerror})."
                ) from None
        return None


@dataclass(frozen=True, slots=True)
class Hl7Source:
    """An HL7 v2 feed: an MLLP listener and/or a folder of message files."""

    name: str
    system: str
    mllp_host: str = "127.0.0.1"
    mllp_port: int | None = None
    files: Path | None = None
    #: assigning authority (CX-4) → identifier system URI; unknown authorities get a urn.
    authorities: dict[str, str] = field(default_factory=dict)
    concept_map: Path | None = None  # a FHIR ConceptMap (JSON) for local codes → LOINC
    units: dict[str, str] = field(default_factory=dict)  # local unit → UCUM code
    kind: str = "hl7v2"
    label: str = ""  # the name people know it by, shown beside its values (default: name)

    def identifier_system(self, authority: str) -> str:
        if authority in self.authorities:
            return self.authorities[authority]
        return f"{self.system}/id/{authority or 'local'}"


Source = FhirSource | Hl7Source


@dataclass(frozen=True, slots=True)
class UpstreamConfig:
    sources: dict[str, Source]
    #: data class → the source whose values win in the shared record (docs/upstream.md).
    authority: dict[str, str] = field(default_factory=dict)
    path: str = ""

    @property
    def listens(self) -> bool:
        """True when an HL7 v2 source has an MLLP port."""
        return any(isinstance(s, Hl7Source) and s.mllp_port for s in self.sources.values())

    def source(self, name: str) -> Source:
        if name not in self.sources:
            known = ", ".join(sorted(self.sources)) or "none"
            raise UpstreamError(f"There is no source {name!r} in {self.path} (known: {known}).")
        return self.sources[name]

    def authoritative(self, rtype: str) -> str | None:
        """The source authoritative for the data class of ``rtype``, if one is set."""
        for klass, types in DATA_CLASSES.items():
            if rtype in types:
                return self.authority.get(klass)
        return None


def load(path: Path, data_dir: Path) -> UpstreamConfig:
    """The file at ``path``; no file means no sources."""
    if not path.exists():
        return UpstreamConfig({}, {}, str(path))
    try:
        text = path.read_text("utf-8")
    except OSError as exc:
        raise UpstreamError(f"Cannot read {path}: {exc.strerror}.") from None
    return parse(text, source=str(path), data_dir=data_dir)


def parse(text: str, *, source: str, data_dir: Path) -> UpstreamConfig:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise UpstreamError(f"{source} is not valid TOML: {exc}.") from None
    unknown = sorted(set(data) - {"source", "authority"})
    if unknown:
        raise UpstreamError(f"{source} has no table [{unknown[0]}] (use [source.NAME]).")
    tables = data.get("source", {})
    if not isinstance(tables, dict):
        raise UpstreamError(f"In {source}, source must be tables [source.NAME].")
    sources: dict[str, Source] = {}
    ports: dict[int, str] = {}
    for name, body in tables.items():
        where = f"In {source}, [source.{name}]"
        if not _NAME.fullmatch(name):
            raise UpstreamError(f"{where}: a source name is lower-case letters, digits and dashes.")
        if not isinstance(body, dict):
            raise UpstreamError(f"{where} must be a table.")
        kind = body.get("kind")
        if kind == "fhir":
            sources[name] = _fhir(name, body, where, data_dir)
        elif kind == "hl7v2":
            hl7 = _hl7(name, body, where, data_dir)
            if hl7.mllp_port is not None:
                if hl7.mllp_port in ports:
                    raise UpstreamError(
                        f"{where}: mllp_port {hl7.mllp_port} is also used by "
                        f"{ports[hl7.mllp_port]}."
                    )
                ports[hl7.mllp_port] = name
            sources[name] = hl7
        else:
            raise UpstreamError(f'{where}: kind must be "fhir" or "hl7v2".')
    authority = data.get("authority", {})
    if not isinstance(authority, dict):
        raise UpstreamError(f"In {source}, [authority] must be a table of data class = source.")
    for klass, who in authority.items():
        if klass not in DATA_CLASSES:
            raise UpstreamError(
                f"In {source}, [authority] has no data class {klass!r} "
                f"(one of {', '.join(DATA_CLASSES)})."
            )
        if who not in sources:
            raise UpstreamError(f"In {source}, [authority] {klass} names no source ({who!r}).")
    return UpstreamConfig(sources, dict(authority), source)


_FHIR_KEYS: Final = {
    "kind",
    "label",
    "base_url",
    "system",
    "types",
    "page_size",
    "interval",
    "token_env",
    "token_file",
    "client_id",
    "token_url",
    "private_key",
    "key_id",
    "scope",
    "patient_identifiers",
}
_HL7_KEYS: Final = {
    "kind",
    "label",
    "system",
    "mllp_host",
    "mllp_port",
    "files",
    "authorities",
    "concept_map",
    "units",
}


def _fhir(name: str, body: dict[str, Any], where: str, data_dir: Path) -> FhirSource:
    _no_unknown(body, _FHIR_KEYS, where)
    base = _url(body.get("base_url"), "base_url", where)
    types = body.get("types", list(DEFAULT_TYPES))
    if not isinstance(types, list) or not types:
        raise UpstreamError(f"{where}: types must be a list of resource types.")
    for t in types:
        if not isinstance(t, str) or not is_resource_type(t):
            raise UpstreamError(f"{where}: types lists {t!r}, which is not a FHIR R4 type.")
    page = body.get("page_size", 100)
    if not isinstance(page, int) or not 1 <= page <= 1000:
        raise UpstreamError(f"{where}: page_size must be a whole number from 1 to 1000.")
    smart = [k for k in ("client_id", "token_url", "private_key") if k in body]
    if smart and len(smart) != 3:
        raise UpstreamError(
            f"{where}: SMART backend services needs client_id, token_url and private_key."
        )
    if smart and ("token_env" in body or "token_file" in body):
        raise UpstreamError(f"{where}: give either a bearer token or SMART credentials, not both.")
    if "token_env" in body and "token_file" in body:
        raise UpstreamError(f"{where}: give token_env or token_file, not both.")
    key = _path(body.get("private_key"), "private_key", where, data_dir, must_exist=True)
    ids = body.get("patient_identifiers", [])
    if not isinstance(ids, list) or not all(isinstance(x, str) and x for x in ids):
        raise UpstreamError(f"{where}: patient_identifiers must be a list of identifier systems.")
    return FhirSource(
        name=name,
        base_url=base.rstrip("/"),
        system=_uri(body.get("system", base.rstrip("/")), where),
        types=tuple(types),
        page_size=page,
        interval=_duration(body.get("interval"), where),
        token_env=_text(body.get("token_env"), "token_env", where),
        token_file=_path(body.get("token_file"), "token_file", where, data_dir, must_exist=True),
        client_id=_text(body.get("client_id"), "client_id", where),
        token_url=_url(body["token_url"], "token_url", where) if "token_url" in body else None,
        private_key=key,
        key_id=_text(body.get("key_id"), "key_id", where),
        scope=_text(body.get("scope"), "scope", where) or "system/*.rs",
        patient_identifiers=tuple(ids),
        label=_label(body.get("label"), name, where),
    )


def _hl7(name: str, body: dict[str, Any], where: str, data_dir: Path) -> Hl7Source:
    _no_unknown(body, _HL7_KEYS, where)
    port = body.get("mllp_port")
    if port is not None and (not isinstance(port, int) or not 1 <= port <= 65535):
        raise UpstreamError(f"{where}: mllp_port must be a TCP port from 1 to 65535.")
    files = _path(body.get("files"), "files", where, data_dir, must_exist=False)
    if port is None and files is None:
        raise UpstreamError(f"{where}: an hl7v2 source needs mllp_port, files or both.")
    cmap = _path(body.get("concept_map"), "concept_map", where, data_dir, must_exist=True)
    return Hl7Source(
        name=name,
        system=_uri(body.get("system", f"urn:bedside:upstream:{name}"), where),
        mllp_host=_text(body.get("mllp_host"), "mllp_host", where) or "127.0.0.1",
        mllp_port=port,
        files=files,
        authorities=_strings(body.get("authorities", {}), "authorities", where),
        concept_map=cmap,
        units=_strings(body.get("units", {}), "units", where),
        label=_label(body.get("label"), name, where),
    )


def _no_unknown(body: dict[str, Any], known: set[str], where: str) -> None:
    unknown = sorted(set(body) - known)
    if unknown:
        raise UpstreamError(f"{where} has no setting {unknown[0]}.")


def _text(value: Any, key: str, where: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise UpstreamError(f"{where}: {key} must be a non-empty string.")
    return value.strip()


def _label(value: Any, name: str, where: str) -> str:
    """The source's name in plain words (patients and clinicians read it beside each value)."""
    text = _text(value, "label", where) or name
    if len(text) > 80 or not text.isprintable():
        raise UpstreamError(f"{where}: label must be one line of at most 80 characters.")
    return text


def _url(value: Any, key: str, where: str) -> str:
    text = _text(value, key, where)
    parsed = urlparse(text or "")
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise UpstreamError(f"{where}: {key} must be an http(s) URL.")
    return text or ""


def _uri(value: Any, where: str) -> str:
    text = _text(value, "system", where) or ""
    if ":" not in text or " " in text:
        raise UpstreamError(f"{where}: system must be a URI such as urn:oid:1.2.3 or a URL.")
    return text


def _path(value: Any, key: str, where: str, data_dir: Path, *, must_exist: bool) -> Path | None:
    text = _text(value, key, where)
    if text is None:
        return None
    path = Path(text)
    if not path.is_absolute():
        path = data_dir / path
    if must_exist and not path.is_file():
        raise UpstreamError(f"{where}: {key} names a file that does not exist ({path}).")
    return path


def _strings(value: Any, key: str, where: str) -> dict[str, str]:
    if not isinstance(value, dict) or not all(
        isinstance(k, str) and isinstance(v, str) and v for k, v in value.items()
    ):
        raise UpstreamError(f"{where}: {key} must be a table of text = text.")
    return dict(value)


def _duration(value: Any, where: str) -> int | None:
    if value is None:
        return None
    m = _DURATION.fullmatch(str(value).strip().lower())
    if not m or int(m.group(1)) == 0:
        raise UpstreamError(f"{where}: interval must be a duration such as 90s, 15m or 1h.")
    return int(m.group(1)) * {"s": 1, "m": 60, "h": 3600}[m.group(2)]
