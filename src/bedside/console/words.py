"""How the console words what it shows: FHIR elements in plain words, a patient's identifier
and name, and the drain statement before a device is revoked or wiped. No database access."""

from __future__ import annotations

from typing import Any

import orjson

from bedside.fleet import telemetry

__all__ = ["drain", "identifier_of", "name_of", "plain"]


def plain(value: Any) -> str:
    """A FHIR element in plain words: "phone 0113 496 0100", "72 /min", "none" when absent."""
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, str | int | float):
        return str(value)
    if isinstance(value, list):
        return "; ".join(plain(v) for v in value) or "none"
    if isinstance(value, dict):
        for key in ("text", "display"):
            if isinstance(value.get(key), str):
                return str(value[key])
        if "value" in value and "unit" in value:
            return f"{value['value']} {value['unit']}"
        if "system" in value and "value" in value:  # ContactPoint, Identifier
            kind = str(value["system"]).rstrip("/").rsplit("/", 1)[-1]
            return f"{kind} {value['value']}"
        if "coding" in value:
            return plain(value["coding"])
        if "code" in value:
            return str(value["code"])
        if "reference" in value:
            return str(value["reference"])
        parts = [f"{k} {plain(v)}" for k, v in value.items() if k not in ("id", "extension")]
        return ", ".join(parts) or "none"
    return orjson.dumps(value).decode()


def identifier_of(version: Any) -> str:
    """The patient's first identifier (system's last part: value), or a placeholder."""
    if version is None or version.content is None:
        return "(no record)"
    for ident in orjson.loads(version.content).get("identifier") or []:
        if isinstance(ident, dict) and ident.get("value"):
            system = str(ident.get("system", "")).rstrip("/").rsplit("/", 1)[-1]
            return f"{system}: {ident['value']}" if system else str(ident["value"])
    return "(no identifier)"


def name_of(version: Any) -> str:
    if version is None or version.content is None:
        return "(no record)"
    for name in orjson.loads(version.content).get("name") or []:
        if isinstance(name, dict):
            text = name.get("text") or " ".join([*name.get("given", []), name.get("family", "")])
            if text.strip():
                return str(text).strip()
    return "(no name recorded)"


def drain(report: telemetry.Report | None, now: float) -> dict[str, Any]:
    """The drain statement the console shows before a revoke or wipe."""
    if report is None:
        return {"reported": None, "unsent": None, "words": "No health report yet: unknown."}
    unsent = report.unsent
    words = (
        "Drained: every event recorded on it has reached the server."
        if unsent == 0
        else f"{unsent} event{'s' if unsent != 1 else ''} not yet received by the server."
    )
    return {
        "reported": report.reported_at,
        "reported_age_s": max(0, int(now - report.reported_at)),
        "unsent": unsent,
        "outbox": report.outbox,
        "oldest_pending_age_s": report.oldest_pending_age_s,
        "cache_age_s": report.cache_age_s,
        "last_error_codes": report.last_error_codes,
        "app_version": report.app_version,
        "snapshot_expires_at": report.snapshot_expires_at,
        "words": words,
    }
