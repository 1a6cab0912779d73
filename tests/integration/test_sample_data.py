"""The 31 Synthea sample Bundles load through the real HTTP API, and every reference holds.

Every Bundle is POSTed to /fhir as a transaction; afterwards every stored resource is read back
by paging each type's search with ``_count=1000`` and following ``next`` links, and every
``reference`` in it must point at a ``#contained`` resource it carries or at a stored resource.
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Any

import httpx
import orjson

from tests.conftest import sample_bundles

EXPECTED_TOTAL = 9_981
_RELATIVE = re.compile(r"([A-Z][A-Za-z]+)/([A-Za-z0-9\-.]{1,64})")


def _references(node: Any) -> list[str]:
    out: list[str] = []
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "reference" and isinstance(value, str):
                out.append(value)
            elif isinstance(value, dict | list):
                out.extend(_references(value))
    elif isinstance(node, list):
        for item in node:
            out.extend(_references(item))
    return out


def _fetch_all(client: httpx.Client, rtype: str) -> list[dict[str, Any]]:
    resources: list[dict[str, Any]] = []
    r = client.get(f"/{rtype}", params={"_count": "1000"})
    first = True
    while True:
        assert r.status_code == 200, r.text
        page = r.json()
        assert page["type"] == "searchset"
        if first:
            total = page["total"]
            first = False
        resources.extend(e["resource"] for e in page.get("entry", []))
        nxt = [link["url"] for link in page.get("link", []) if link["relation"] == "next"]
        if not nxt:
            break
        r = client.get(nxt[0])
    assert len(resources) == total, (rtype, len(resources), total)
    return resources


def test_sample_bundles_load_over_http_and_every_reference_resolves(
    client: httpx.Client,
) -> None:
    files = sample_bundles()
    assert len(files) == 31
    expected: Counter[str] = Counter()
    for path in files:
        raw = path.read_bytes()
        bundle = orjson.loads(raw)
        expected.update(e["resource"]["resourceType"] for e in bundle["entry"])
        r = client.post(
            "/", content=raw, headers={"Content-Type": "application/fhir+json"}, timeout=120
        )
        assert r.status_code == 200, f"{path.name}: {r.text[:500]}"
        body = r.json()
        assert body["type"] == "transaction-response", path.name
        assert len(body["entry"]) == len(bundle["entry"]), path.name
        bad = [e["response"] for e in body["entry"] if e["response"]["status"] != "201"]
        assert not bad, f"{path.name}: {bad[:3]}"
    assert sum(expected.values()) == EXPECTED_TOTAL

    stored: dict[str, list[dict[str, Any]]] = {t: _fetch_all(client, t) for t in sorted(expected)}
    counts = Counter({t: len(rs) for t, rs in stored.items()})
    assert counts == expected
    for rtype in expected:
        summary = client.get(f"/{rtype}", params={"_summary": "count"}).json()
        assert summary["total"] == expected[rtype], rtype

    known = {(t, r["id"]) for t, rs in stored.items() for r in rs}
    assert len(known) == EXPECTED_TOTAL
    checked = Counter[str]()
    problems: list[str] = []
    for rtype, resources in stored.items():
        for resource in resources:
            assert resource["resourceType"] == rtype
            contained = {c.get("id") for c in resource.get("contained", [])}
            for ref in _references(resource):
                if ref.startswith("#"):
                    checked["contained"] += 1
                    if ref != "#" and ref[1:] not in contained:
                        problems.append(f"{rtype}/{resource['id']}: {ref} not contained")
                    continue
                checked["relative"] += 1
                m = _RELATIVE.fullmatch(ref)
                if m is None or (m.group(1), m.group(2)) not in known:
                    problems.append(f"{rtype}/{resource['id']}: {ref} does not resolve")
    assert not problems, f"{len(problems)} broken references, e.g. {problems[:5]}"
    # The sample data has 33,202 urn:uuid references and 1,892 #contained ones.
    assert checked == Counter({"relative": 33_202, "contained": 1_892})
