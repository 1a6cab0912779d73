"""Authorization-server throughput: token-endpoint requests/s and authenticated FHIR reads/s.

Starts a real server (``bedside serve``, one process, as ``make run`` does) on loopback with a
SQLite or PostgreSQL database, registers a backend service (private_key_jwt, RS384) and loads a
patient, then drives it over HTTP/1.1 keep-alive from this process with asyncio:

* ``token_per_s``: client_credentials token requests, each with its own signed assertion (a new
  ``jti`` each time, so every request runs the full check: signature, claims, replay record,
  grant record, token signing). Assertions are signed before the clock starts.
* ``authed_reads_per_s``: ``GET /fhir/Patient/{id}`` with a SMART access token (signature,
  expiry, audience, live-grant lookup, scope check, read).
* baseline, same run: ``GET /healthz`` (no token, no database), the ceiling the HTTP stack and
  this load generator allow; the ratio says how much of it an authenticated read keeps.

    python bench/auth.py                 # SQLite, 10 s per measurement
    python bench/auth.py --postgres      # PostgreSQL at $BEDSIDE_BENCH_POSTGRES
    python bench/auth.py --seconds 3     # quicker
    python bench/auth.py --workers 2     # serve --workers 2 (one process per core)

The last line is JSON with token_per_s and authed_reads_per_s.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import secrets
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import orjson
from joserfc import jwt
from joserfc.jwk import RSAKey

PG_URL = os.environ.get("BEDSIDE_BENCH_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")
JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def bedside(*args: str, stdin: str | None = None) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "bedside", *args],
        input=stdin,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        sys.exit(f"bedside {args[0:3]} failed: {done.stderr}")
    return done.stdout.strip().splitlines()[-1] if done.stdout.strip() else ""


def fresh_pg_database() -> str:
    import psycopg

    schema = f"bench_auth_{secrets.token_hex(4)}"
    with psycopg.connect(PG_URL, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    return f"{PG_URL}?options=-csearch_path%3D{schema}"


class Connection:
    """A minimal HTTP/1.1 keep-alive client: httpx costs more CPU per request than the server
    under test, and both share the machine, so the load generator must be cheap."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def request(self, raw: bytes) -> int:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        assert self.reader is not None
        self.writer.write(raw)
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        length = 0
        for line in head.split(b"\r\n"):
            if line[:15].lower() == b"content-length:":
                length = int(line[15:])
        if length:
            await self.reader.readexactly(length)
        return status


def http_get(path: str, host: str, headers: dict[str, str] | None = None) -> bytes:
    extra = "".join(f"{k}: {v}\r\n" for k, v in (headers or {}).items())
    return f"GET {path} HTTP/1.1\r\nHost: {host}\r\n{extra}\r\n".encode()


def http_post_form(path: str, host: str, body: str) -> bytes:
    return (
        f"POST {path} HTTP/1.1\r\nHost: {host}\r\n"
        "Content-Type: application/x-www-form-urlencoded\r\n"
        f"Content-Length: {len(body)}\r\n\r\n{body}"
    ).encode()


def service_token(root: str, key: Any, scope: str) -> str:
    """A SMART backend-service access token for the bench client (RS384 client assertion)."""
    assertion = jwt.encode(
        {"alg": "RS384", "kid": key.kid},
        {
            "iss": "bench-service",
            "sub": "bench-service",
            "aud": f"{root}/auth/token",
            "exp": int(time.time()) + 60,
            "jti": secrets.token_urlsafe(16),
        },
        key,
        algorithms=["RS384"],
    )
    response = httpx.post(
        f"{root}/auth/token",
        data={
            "grant_type": "client_credentials",
            "scope": scope,
            "client_assertion_type": JWT_BEARER,
            "client_assertion": assertion,
        },
    )
    response.raise_for_status()
    return str(response.json()["access_token"])


async def run_for(
    seconds: float, concurrency: int, port: int, make: Callable[[int], bytes]
) -> tuple[int, int]:
    """Send requests from ``concurrency`` connections for ``seconds``; (ok count, error count)."""
    deadline = time.perf_counter() + seconds
    ok = bad = 0
    counter = 0

    async def worker() -> None:
        nonlocal ok, bad, counter
        conn = Connection("127.0.0.1", port)
        while time.perf_counter() < deadline:
            counter += 1
            if await conn.request(make(counter)) == 200:
                ok += 1
            else:
                bad += 1
        if conn.writer is not None:
            conn.writer.close()

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return ok, bad


async def measure(
    port: int, patient_id: str, access: str, key: RSAKey, args: Any
) -> dict[str, Any]:
    host = f"127.0.0.1:{port}"
    token_url = f"http://{host}/auth/token"
    n_assertions = int(args.seconds * 3000) + 1000
    now = int(time.time())
    bodies = [
        urlencode(
            {
                "grant_type": "client_credentials",
                "scope": "system/Patient.rs",
                "client_assertion_type": JWT_BEARER,
                "client_assertion": jwt.encode(
                    {"alg": "RS384", "kid": key.kid, "typ": "JWT"},
                    {
                        "iss": "bench-service",
                        "sub": "bench-service",
                        "aud": token_url,
                        "exp": now + 290,
                        "jti": secrets.token_urlsafe(16),
                    },
                    key,
                    algorithms=["RS384"],
                ),
            }
        )
        for _ in range(n_assertions)
    ]
    results: dict[str, Any] = {}
    health = http_get("/healthz", host)
    ok, _ = await run_for(1.0, args.concurrency, port, lambda i: health)  # warm-up
    ok, _ = await run_for(args.seconds, args.concurrency, port, lambda i: health)
    results["baseline_healthz_per_s"] = round(ok / args.seconds)

    read = http_get(f"/fhir/Patient/{patient_id}", host, {"Authorization": f"Bearer {access}"})
    ok, bad = await run_for(args.seconds, args.concurrency, port, lambda i: read)
    results["authed_reads_per_s"] = round(ok / args.seconds)
    results["authed_read_errors"] = bad

    def token(i: int) -> bytes:
        return http_post_form("/auth/token", host, bodies[i % len(bodies)])

    ok, bad = await run_for(args.seconds, args.concurrency, port, token)
    results["token_per_s"] = round(ok / args.seconds)
    results["token_errors"] = bad
    results["reads_vs_baseline"] = round(
        results["authed_reads_per_s"] / max(results["baseline_healthz_per_s"], 1), 3
    )
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--postgres", action="store_true", help="use PostgreSQL, not SQLite")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--workers", type=int, default=1, help="server processes (serve --workers)")
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="bedside-bench-auth-"))
    data = str(tmp / "data")
    database = fresh_pg_database() if args.postgres else f"sqlite:///{tmp / 'bench.db'}"
    port = free_port()
    root = f"http://127.0.0.1:{port}"
    log = open(tmp / "server.log", "wb")  # noqa: SIM115
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "bedside",
            "serve",
            "--data-dir",
            data,
            "--database",
            database,
            "--port",
            str(port),
            "--workers",
            str(args.workers),
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        for _ in range(600):
            try:
                if httpx.get(f"{root}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        key = RSAKey.generate_key(2048, auto_kid=True, private=True)
        jwks_file = tmp / "jwks.json"
        jwks_file.write_bytes(orjson.dumps({"keys": [key.as_dict(private=False)]}))
        common = ("--data-dir", data, "--database", database)
        bedside(
            "admin",
            "client",
            "add",
            "bench-service",
            "--backend",
            "--jwks-file",
            str(jwks_file),
            "--scope",
            "system/*.rs",
            *common,
        )
        operator = bedside("admin", "token", "--scope", "system/*.cruds", "--data-dir", data)
        created = httpx.post(
            f"{root}/fhir/Patient",
            json={"resourceType": "Patient", "name": [{"family": "Bench", "given": ["Ada"]}]},
            headers={"Authorization": f"Bearer {operator}"},
        )
        patient_id = created.json()["id"]
        # The read token is a SMART grant token (live-grant check on every request).
        access = service_token(root, key, "system/Patient.rs")
        results = asyncio.run(measure(port, patient_id, access, key, args))
    finally:
        server.terminate()
        server.wait(timeout=10)
    backend = "postgresql" if args.postgres else "sqlite"
    cpu = platform.processor() or platform.machine()
    print(
        f"machine: {os.cpu_count()} CPUs ({cpu}), Python {platform.python_version()}, {backend},"
        f" {args.workers} server process(es), {args.concurrency} connections"
    )
    print(f"baseline GET /healthz:           {results['baseline_healthz_per_s']:>7,}/s")
    print(
        f"authenticated GET Patient/{{id}}:  {results['authed_reads_per_s']:>7,}/s "
        f"({results['reads_vs_baseline']:.0%} of baseline, errors {results['authed_read_errors']})"
    )
    print(
        f"token endpoint (client_credentials): {results['token_per_s']:>7,}/s "
        f"(errors {results['token_errors']})"
    )
    print(orjson.dumps({"backend": backend, "workers": args.workers, **results}).decode())


if __name__ == "__main__":
    main()
