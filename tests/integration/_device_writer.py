"""A clinician's device writing as fast as it can, to be killed with SIGKILL by test_device_crash.

    python -m tests.integration._device_writer HOME PIN PATIENT...

It unlocks the home, then loops: record a new Observation, now and then update one it recorded
earlier, and move outbox events along as sync would (take some, settle some with a server
result). After every call that committed it prints one line and flushes, so the parent knows
exactly which actions the device acknowledged before it died:

    create <seq> <id>
    update <seq> <id>
    settle <seq>
"""

from __future__ import annotations

import random
import sys
from pathlib import Path

from bedside.device import Node
from tests.integration._device_world import pulse
from tests.integration._outbox import settle, take


def main() -> None:
    home, pin, *patients = sys.argv[1:]
    node = Node(Path(home))
    node.unlock(pin)
    rng = random.Random()
    mine: list[tuple[str, str]] = []  # (patient, id) created by this process
    n = 0
    while True:
        n += 1
        patient = rng.choice(patients)
        if mine and n % 5 == 0:
            who, rid = rng.choice(mine)
            current = node.read("Observation", rid).resource
            updated = {**current, "valueQuantity": {"value": 50 + n % 50, "unit": "/min"}}
            done = node.record("update", updated, who)
            print(f"update {done.seq} {done.id}", flush=True)
        else:
            done = node.record("create", pulse(patient, 60 + n % 40), patient)
            mine.append((patient, done.id))
            print(f"create {done.seq} {done.id}", flush=True)
        if n % 7 == 0:
            for entry in take(node, 3):
                if rng.random() < 0.5:
                    result = {"state": "confirmed", "id": entry.resource_id, "version": "1"}
                    settle(node, entry.seq, result)
                    print(f"settle {entry.seq}", flush=True)


if __name__ == "__main__":
    main()
