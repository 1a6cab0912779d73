"""The patient's own details (name, date of birth, address, phone) and the other values that
upstream systems hold for them (docs/upstream.md "Conflicting sources").

A Patient is shared by the sources that know the person (matched by identifier). Where
``[authority] patient`` names a source, another source's different details are not written
over it but held whole (``upstream_variants``); the portal shows the record's value with its
source and each held value under "Other value from <source>", so the patient can tell their
care team which is right. Pure: the Patient and its held variants in, lines out.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson

from bedside.portal.sources import Other, PortalSources

__all__ = ["Line", "detail_lines"]

Line = tuple[str, str, tuple[Other, ...], str]  # label, value, others, which is the main one


def _name(p: dict[str, Any]) -> str:
    names = [n for n in p.get("name") or [] if isinstance(n, dict)]
    chosen = next((n for n in names if n.get("use") == "official"), names[0] if names else {})
    if isinstance(chosen.get("text"), str):
        return str(chosen["text"])
    given = " ".join(str(g) for g in chosen.get("given") or [])
    return f"{given} {chosen.get('family', '')}".strip()


def _address(p: dict[str, Any]) -> str:
    for a in p.get("address") or []:
        if isinstance(a, dict):
            parts = [*(a.get("line") or []), a.get("city"), a.get("postalCode")]
            return ", ".join(str(x) for x in parts if x)
    return ""


def _phone(p: dict[str, Any]) -> str:
    found = [
        str(t.get("value"))
        for t in p.get("telecom") or []
        if isinstance(t, dict) and t.get("system") == "phone" and t.get("value")
    ]
    return ", ".join(found)


def detail_lines(
    patient: dict[str, Any],
    held: list[tuple[str, bytes]],
    sources: PortalSources,
    day: Callable[[Any], str],
) -> list[Line]:
    """One line per detail; ``held``: (source name in upstream.toml, the value it sent)."""
    fields: list[tuple[str, Callable[[dict[str, Any]], str]]] = [
        ("Name", _name),
        ("Date of birth", lambda p: day(p.get("birthDate")) if p.get("birthDate") else ""),
        ("Address", _address),
        ("Phone", _phone),
    ]
    variants: list[tuple[str, dict[str, Any]]] = []
    config = sources.config
    for name, content in held:
        source = config.sources.get(name) if config else None
        label = (source.label or source.name) if source else name
        try:
            variants.append((label, orjson.loads(content)))
        except orjson.JSONDecodeError:
            continue
    main = sources.main("Patient")
    shown = sources.name(patient)
    out: list[Line] = []
    for label, read in fields:
        value = read(patient)
        others = tuple(
            Other(who, f"From {who}", read(v))
            for who, v in variants
            if read(v) and read(v) != value
        )
        if not value and not others:
            continue
        sentence = ""
        if others and main is not None and main == shown:
            sentence = f"{main} is the main source for your details, so its value is shown first."
        elif others:
            sentence = "Ask your care team which is right: they can correct your record."
        out.append((label, value or "Not recorded", others, sentence))
    return out
