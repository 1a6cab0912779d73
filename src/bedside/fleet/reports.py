"""A device's health report at each sync, for one caller (docs/sync-protocol.md "Telemetry").

Built per request like ``Repository(store, caller)``: the caller is the device's own token (an
active device of its user); the report (:func:`bedside.fleet.telemetry.parse_report`) is kept
as the device's latest with its audit entry in one transaction, the day's most events waiting
on devices is noted (``figures``, the console's chart), and a posture the policy's
``[posture]`` steps put at "wipe" flags the device for wipe there and then. A refusal is
audited on its own. The HTTP layer (:mod:`bedside.web.telemetry_api`) parses and answers.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Final

from bedside.audit.entry import MINOR_FAILURE, SERIOUS_FAILURE, SUCCESS
from bedside.errors import FhirError
from bedside.fhir import json_body
from bedside.fleet import registry, telemetry
from bedside.fleet.audit import device_entry
from bedside.fleet.device_auth import DeviceAuth
from bedside.policy.bound import CallerBound
from bedside.store.base import Records
from bedside.sync.posture_check import device_step

__all__ = ["DeviceReports"]

_EVENT: Final = ("device-telemetry", "U")


@dataclass
class DeviceReports(CallerBound):
    devices: DeviceAuth = field(kw_only=True)
    #: ``figures(db, name, value, now)`` keeps a day's largest value (bedside.metrics.daily)
    figures: Callable[[Records, str, int, float], None] = field(kw_only=True)
    network: str | None = field(default=None, kw_only=True)

    def report(self, raw: bytes) -> None:
        """Keep the report in ``raw`` (the request body) as this device's latest."""
        caller = self.caller
        try:
            device = self.devices.active_device(caller)
            report = telemetry.parse_report(json_body.loads(raw))
            now = self.policy.clock()
            with self.store.write() as session:
                db = session.records()
                telemetry.record(db, device.device_id, report, now=now)
                waiting = sum(r.unsent for _, r in telemetry.active_reports(db) if r)
                self.figures(db, "unsent", waiting, now)  # the console's chart over days
                entry = device_entry(
                    *_EVENT,
                    SUCCESS,
                    device=device.device_id,
                    caller=caller,
                    now=now,
                    description=f"telemetry: {report.unsent} events not yet sent",
                    network=self.network,
                )
                self.auditor.append(db, [entry])
                step, _ = device_step(db, device, self.policy.rules.posture)
                if step == "wipe" and registry.wipe(db, device.device_id, now=now)[1]:
                    why = "posture: flagged for wipe by the policy's [posture] step"
                    wiped = device_entry(
                        "device-wipe",
                        "U",
                        SUCCESS,
                        device=device.device_id,
                        caller=caller,
                        now=now,
                        description=why,
                        network=self.network,
                    )
                    self.auditor.append(db, [wiped])
        except FhirError as exc:
            self._refused(exc)
            raise

    def _refused(self, exc: FhirError) -> None:
        entry = device_entry(
            *_EVENT,
            SERIOUS_FAILURE if exc.status >= 500 else MINOR_FAILURE,
            device=self.caller.device,
            caller=self.caller,
            now=self.policy.clock(),
            description=f"telemetry refused ({exc.status})",
            network=self.network,
        )
        self.auditor.submit([entry])
