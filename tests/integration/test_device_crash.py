"""Crash safety of the device: a writer killed with SIGKILL at random instants loses nothing.

A real device home (SQLCipher store, key file, signed snapshot) is written by a separate Python
process (tests/integration/_device_writer.py) that prints a line after every committed action.
The test kills it with SIGKILL at a random moment, again and again, and after each kill reopens
the home and checks the guarantees of docs/device.md:

* every action the writer reported is there, in the outbox and in local reads;
* nothing is doubled: outbox seqs run 1..N with no gap or repeat, idempotency keys are unique,
  one resource row per created id;
* every outbox event still verifies with the device's public key;
* an event caught in ``sending`` goes back to ``pending`` (it will be re-sent with its key),
  and a settled one stays settled.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

from bedside.auth.keys import load_or_create
from bedside.device import Node
from bedside.protocol.event import verify
from tests.integration._device_world import Clock, enroll

ROOT = Path(__file__).resolve().parents[2]
KILLS = 10
PATIENTS = ("p1", "p2")


def run_and_kill(home: Path, pin: str, rng: random.Random) -> list[str]:
    """Start the writer, let it work for a random while, SIGKILL it; the lines it printed."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.integration._device_writer", str(home), pin, *PATIENTS],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "BEDSIDE_DEVICE_KEYSTORE": "file"},
    )
    deadline = time.monotonic() + 30
    assert proc.stdout is not None
    lines: list[str] = []
    # wait for the first committed write, so every round kills a process that is writing
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        lines.append(line.strip())
        break
    time.sleep(rng.uniform(0.01, 0.4))
    proc.send_signal(signal.SIGKILL)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == -signal.SIGKILL, f"the writer ended on its own: {err[-2000:]}"
    assert lines, f"the writer never wrote: {err[-2000:]}"
    return lines + [x for x in out.splitlines() if x]


def test_kill_9_in_a_loop_loses_nothing_and_doubles_nothing(tmp_path: Path) -> None:
    rng = random.Random()
    keys = load_or_create(tmp_path / "server-keys")
    clock = Clock(time.time())
    world = enroll(tmp_path / "home", keys, clock, patients=PATIENTS)
    world.node.lock()
    public = world.device_key.public_key()
    acked_writes: dict[int, str] = {}
    acked_settled: set[int] = set()
    for _ in range(KILLS):
        for line in run_and_kill(world.home, world.pin, rng):
            kind, seq, *rest = line.split()
            if kind == "settle":
                acked_settled.add(int(seq))
            else:
                acked_writes[int(seq)] = rest[0]

        node = Node(world.home)
        node.unlock(world.pin)
        try:
            entries = node.outbox()
            seqs = [e.seq for e in entries]
            assert seqs == list(range(1, len(seqs) + 1)), "outbox seqs must run 1..N"
            assert len({e.idempotency_key for e in entries}) == len(entries)
            by_seq = {e.seq: e for e in entries}
            for seq, rid in acked_writes.items():
                assert seq in by_seq, f"acknowledged event {seq} was lost"
                assert by_seq[seq].resource_id == rid
            for seq in acked_settled:
                assert by_seq[seq].state == "confirmed", f"settled event {seq} went back"
            assert not [e for e in entries if e.state == "sending"], "sending must reopen pending"
            for e in entries:
                event = verify(e.event, public)
                assert event.seq == e.seq
                local = node.read(e.type, e.resource_id)
                assert local.resource["id"] == e.resource_id
            created = [e.resource_id for e in entries if e.action == "create"]
            assert len(set(created)) == len(created)
            chart = {i.id for p in PATIENTS for i in node.chart(p, "Observation")}
            assert set(created) == chart, "every created resource, and only those, is stored"
        finally:
            node.lock()
    assert len(acked_writes) > KILLS, "the writer should have committed many actions"
