"""A second real `bedside serve` as the upstream FHIR source (sample patients), pulled by
`bedside upstream run` into a receiving server on SQLite and on PostgreSQL: the second pull
writes nothing, then a change and a deletion at the source arrive with Provenance naming it."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from bedside.store import Store
from bedside.upstream.config import parse
from bedside.upstream.service import Upstream
from tests.conftest import BACKENDS, BASE, Server, sample_bundles
from tests.integration._module_server import live_server

pytestmark = pytest.mark.timeout(300)
TYPES = ("Patient", "Encounter", "Observation", "Condition", "DiagnosticReport")


@pytest.fixture(params=BACKENDS)
def world(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Server, Server, str, Path]]:
    """(source server, receiving server, receiving database URL, upstream.toml)."""
    smallest = sorted(sample_bundles(), key=lambda p: p.stat().st_size)[:2]
    folder = tmp_path_factory.mktemp("pull")
    with live_server(tmp_path_factory, "sqlite") as (source, _):
        with source.client() as client:
            for path in smallest:
                resp = client.post("", content=path.read_bytes())
                assert resp.status_code == 200, resp.text[:300]
        token = folder / "source.token"
        token.write_text(source.token("system/*.rs", ttl=3000))
        config = folder / "upstream.toml"
        config.write_text(
            "[source.ehr]\n"
            'kind = "fhir"\n'
            f'base_url = "{source.base}"\n'
            f'token_file = "{token}"\n'
            f"types = {list(TYPES)!r}\n".replace("'", '"')
            + "page_size = 25\n"
        )
        with live_server(tmp_path_factory, request.param, "--upstream", str(config)) as (
            receiver,
            url,
        ):
            yield source, receiver, url, config


def _pull(receiver: Server, url: str, config: Path) -> str:
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "bedside",
            "upstream",
            "run",
            "--source",
            "ehr",
            "--data-dir",
            str(receiver.data_dir),
            "--database",
            url,
            "--upstream",
            str(config),
        ],
        capture_output=True,
        timeout=240,
    )
    assert out.returncode == 0, out.stderr.decode()[-2000:]
    return out.stdout.decode()


def _all(client: httpx.Client, rtype: str, **params: str) -> list[dict[str, Any]]:
    resp = client.get(f"/{rtype}", params={"_count": "1000", **params})
    assert resp.status_code == 200, resp.text
    return [e["resource"] for e in resp.json().get("entry", [])]


def _versions(client: httpx.Client) -> dict[str, str]:
    return {
        f"{t}/{r['id']}": r["meta"]["versionId"]
        for t in (*TYPES, "Provenance")
        for r in _all(client, t)
    }


def _local(client: httpx.Client, source: Server, rtype: str, src_id: str) -> dict[str, Any]:
    found = _all(client, rtype, identifier=f"{source.base}/{rtype}|{src_id}")
    assert len(found) == 1, (rtype, src_id)
    return found[0]


def test_pull_twice_then_changes_and_deletions_arrive(
    world: tuple[Server, Server, str, Path],
) -> None:
    source, receiver, url, config = world
    with source.client() as src:
        upstream = {t: _all(src, t) for t in TYPES}
    assert len(upstream["Patient"]) == 2 and len(upstream["Observation"]) > 20

    first = _pull(receiver, url, config)
    assert (
        "by bulk export" in first
    )  # a Bedside source offers Bulk Data $export (docs/bulk-export.md)
    with receiver.client() as client:
        for rtype in TYPES:
            local = _all(client, rtype)
            assert len(local) == len(upstream[rtype]), rtype
            assert all(r["meta"]["source"] == source.base for r in local)
        before = _versions(client)
        patient_src = upstream["Patient"][0]
        patient = _local(client, source, "Patient", patient_src["id"])
        # references point at the local copies
        obs_src = next(
            o
            for o in upstream["Observation"]
            if o["subject"]["reference"].endswith(patient_src["id"])
        )
        obs = _local(client, source, "Observation", obs_src["id"])
        assert obs["subject"]["reference"] == f"Patient/{patient['id']}"

    second = _pull(receiver, url, config)
    assert "0 written, 0 deleted" in second
    with receiver.client() as client:
        assert _versions(client) == before

    # change a Patient and delete an Observation at the source
    with source.client() as src:
        changed = {**patient_src, "telecom": [{"system": "phone", "value": "555-0199"}]}
        changed.pop("meta", None)
        resp = src.put(f"/Patient/{patient_src['id']}", json=changed)
        assert resp.status_code == 200, resp.text
        new_version = resp.json()["meta"]["versionId"]
        assert src.delete(f"/Observation/{obs_src['id']}").status_code in (200, 204)

    third = _pull(receiver, url, config)
    assert "1 deleted" in third
    with receiver.client() as client:
        updated = _local(client, source, "Patient", patient_src["id"])
        assert updated["telecom"] == [{"system": "phone", "value": "555-0199"}]
        assert client.get(f"/Observation/{obs['id']}").status_code == 410
        provs = [
            p for p in _all(client, "Provenance") if p.get("meta", {}).get("source") == source.base
        ]
        target = f"Patient/{updated['id']}/_history/{updated['meta']['versionId']}"
        update_prov = [p for p in provs if p["target"][0]["reference"] == target]
        assert len(update_prov) == 1
        assert update_prov[0]["agent"][0]["who"]["identifier"]["value"] == source.base
        assert update_prov[0]["entity"][0]["what"]["reference"] == (
            f"{source.base}/Patient/{patient_src['id']}/_history/{new_version}"
        )
        deletes = [
            p
            for p in provs
            if p["activity"]["coding"][0]["code"] == "DELETE"
            and p["target"][0]["reference"].startswith(f"Observation/{obs['id']}/_history/")
        ]
        assert len(deletes) == 1
        # everything else is as it was
        after = _versions(client)
        same = {k for k in before if k in after and before[k] == after[k]}
        assert len(same) >= len(before) - 2

    status = subprocess.run(
        [
            sys.executable,
            "-m",
            "bedside",
            "upstream",
            "status",
            "--source",
            "ehr",
            "--json",
            "--data-dir",
            str(receiver.data_dir),
            "--database",
            url,
            "--upstream",
            str(config),
        ],
        capture_output=True,
        check=True,
        timeout=60,
    )
    marks = orjson.loads(status.stdout)["marks"]
    assert set(marks) == set(TYPES)


def test_smart_backend_services_credentials_pull_from_the_source(
    tmp_path_factory: pytest.TempPathFactory, store: Store, tmp_path: Path
) -> None:
    """The source takes a client_credentials grant with a signed JWT assertion (RFC 7523)."""
    from joserfc.jwk import RSAKey

    smallest = sorted(sample_bundles(), key=lambda p: p.stat().st_size)[0]
    key = RSAKey.generate_key(2048, parameters={"kid": "upstream-1"})
    (tmp_path / "client.pem").write_bytes(key.as_pem(private=True))
    (tmp_path / "jwks.json").write_bytes(orjson.dumps({"keys": [key.as_dict(private=False)]}))
    with live_server(tmp_path_factory, "sqlite") as (source, _):
        with source.client() as client:
            assert client.post("", content=smallest.read_bytes()).status_code == 200
            discovery = client.get("/.well-known/smart-configuration").json()
        added = subprocess.run(
            [
                sys.executable,
                "-m",
                "bedside",
                "admin",
                "client",
                "add",
                "bedside-upstream",
                "--backend",
                "--jwks-file",
                str(tmp_path / "jwks.json"),
                "--scope",
                "system/*.rs",
                "--data-dir",
                str(source.data_dir),
            ],
            capture_output=True,
            timeout=60,
        )
        assert added.returncode == 0, added.stderr.decode()
        config = parse(
            "[source.ehr]\n"
            'kind = "fhir"\n'
            f'base_url = "{source.base}"\n'
            'client_id = "bedside-upstream"\n'
            f'token_url = "{discovery["token_endpoint"]}"\n'
            'private_key = "client.pem"\n'
            'key_id = "upstream-1"\n'
            'types = ["Patient", "Observation"]\n',
            source="t",
            data_dir=tmp_path,
        )
        report = Upstream(store, config, BASE).pull("ehr")
    assert not report.errors
    assert report.by_type["Patient"] == 1 and report.by_type["Observation"] > 0
