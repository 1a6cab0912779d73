"""One HL7 v2 message in, one acknowledgement out: parse, map, write, or dead-letter.

The same path serves the MLLP listener, message files and ``upstream replay``: a message is
parsed (:mod:`bedside.upstream.hl7_message`), mapped by trigger event
(:mod:`bedside.upstream.hl7_segments`), written as one transaction
(:class:`~bedside.upstream.canonical.Writer`) and answered ``AA``. A message that cannot be
parsed, mapped or written is kept whole in the dead-letter store and answered ``AE``/``AR``
with the reason (a sentence without PHI); it is never dropped. A40 merges: the surviving
Patient ``replaces`` the prior one, the prior one is marked inactive and ``replaced-by``, and
every resource that pointed at the prior Patient is moved to the survivor (no delete).
"""

from __future__ import annotations

import logging
import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

from bedside.errors import BedsideError, FhirError
from bedside.upstream import hl7_segments as seg
from bedside.upstream import ledger
from bedside.upstream.canonical import Delivery, Writer
from bedside.upstream.config import Hl7Source
from bedside.upstream.counters import Counters
from bedside.upstream.hl7_message import Message, MessageError, parse
from bedside.upstream.identity import patient_id
from bedside.upstream.terminology import Terminology

__all__ = ["MOVED_TYPES", "Ack", "Hl7Feed", "ack_for_raw", "ack_message"]

log = logging.getLogger("bedside.upstream")
#: Types a merge moves from the prior Patient to the survivor (all have a `patient` search).
MOVED_TYPES: Final = (
    "Encounter",
    "Observation",
    "DiagnosticReport",
    "Condition",
    "AllergyIntolerance",
    "RelatedPerson",
)


@dataclass(frozen=True)
class Ack:
    code: str  # AA accepted, AE error (fix and resend), AR rejected
    control_id: str
    reason: str | None
    message: bytes
    letter: str | None = None  # the dead letter kept for a refused message


class Hl7Feed:
    def __init__(
        self, writer: Writer, source: Hl7Source, terms: Terminology, counters: Counters
    ) -> None:
        self.writer = writer
        self.source = source
        self.terms = terms
        self.counters = counters

    def receive(self, raw: bytes) -> Ack:
        """Handle one message as received; the answer is the ACK to send back."""
        self.counters.add("messages_received")
        control = _control_id(raw)
        try:
            msg = parse(raw)
            control = msg.control_id
            if self.writer.seen(control, raw):  # a resend: answered, nothing to write
                self.counters.add("messages_duplicate")
                self.counters.add("messages_accepted")
                return Ack("AA", control, None, ack_message(msg, "AA", None))
            outcome = self.writer.deliver(self.map(msg, raw))
        except MessageError as exc:
            return self._refuse(raw, control, exc.reason, exc.code)
        except FhirError as exc:
            return self._refuse(
                raw, control, f"The record could not be stored: {exc.message}", "AE"
            )
        except BedsideError as exc:
            return self._refuse(raw, control, str(exc), "AE")
        except (KeyError, IndexError, TypeError, ValueError, AttributeError) as exc:
            # a message shaped in a way no mapping expected: kept and answered, never a crash
            reason = f"The message could not be mapped ({type(exc).__name__})."
            return self._refuse(raw, control, reason, "AE")
        if outcome.duplicate:
            self.counters.add("messages_duplicate")
        self.counters.add("messages_accepted")
        self.counters.add("resources_written", outcome.written)
        self.counters.add("variants_held", outcome.held)
        log.info(
            "upstream message accepted",
            extra={
                "source": self.source.name,
                "written": outcome.written,
                "duplicate": outcome.duplicate,
            },
        )
        return Ack("AA", control, None, ack_message(msg, "AA", None))

    def retry(self, letter_id: str) -> Ack:
        """Run a dead letter again; it is marked resolved when it goes through."""
        with self.writer.repo.store.records() as db:
            letter = ledger.dead_letter(db, letter_id)
        if letter is None or letter.source != self.source.name:
            raise BedsideError(
                f"There is no dead letter {letter_id} for source {self.source.name}."
            )
        ack = self.receive(letter.message)
        with self.writer.repo.store.records(write=True) as db:
            if ack.code == "AA":
                ledger.resolve_dead_letter(db, letter_id, int(time.time()))
        return ack

    def _refuse(self, raw: bytes, control: str, reason: str, code: str) -> Ack:
        with self.writer.repo.store.records(write=True) as db:
            letter = ledger.add_dead_letter(
                db, self.source.name, control or "unknown", raw, reason, int(time.time())
            )
        self.counters.add("messages_refused")
        log.warning("upstream message refused", extra={"source": self.source.name, "code": code})
        return Ack(code, control, reason, ack_for_raw(raw, code, reason), letter)

    # --- mapping by trigger event -----------------------------------------------------------

    def map(self, msg: Message, raw: bytes) -> Delivery:
        pid = msg.first("PID")
        if pid is None:
            raise MessageError("The message has no PID segment.")
        idents = seg.patient_identifiers(pid, self.source)
        found = self.writer.find_patient(idents)
        direct = f"Patient/{found['id']}" if found else None
        patient_ref = self.writer.survivor(found) if found else _patient_ref(idents[0])
        resources: list[dict[str, Any]] = []
        moved: list[dict[str, Any]] = []
        pid_ = patient_ref.split("/", 1)[1]
        # merged away: the data goes to the survivor, whose demographics this PID does not set
        merged_away = direct is not None and direct != patient_ref
        is_new = self.writer.current("Patient", pid_) is None
        if not merged_away and (msg.message_type == "ADT" or is_new):
            resources.append(seg.patient(pid, self.source, pid_))
        pv1 = msg.first("PV1")
        encounter_ref = None
        if pv1 is not None and pv1.get(19):
            visit = seg.encounter(pv1, self.source, patient_ref, msg.event)
            encounter_ref = f"Encounter/{visit['id']}"
            if msg.message_type == "ADT" and msg.event != "A40":
                resources.append(visit)
        elif msg.message_type == "ADT" and msg.event not in ("A08", "A40"):
            raise MessageError(f"{msg.kind} needs a PV1 segment with a visit number (PV1-19).")
        for nk1 in msg.all("NK1"):
            resources.append(seg.related_person(nk1, self.source, patient_ref))
        for al1 in msg.all("AL1"):
            resources.append(seg.allergy(al1, self.source, patient_ref))
        for dg1 in msg.all("DG1"):
            resources.append(seg.condition(dg1, self.source, patient_ref, encounter_ref))
        if msg.message_type == "ORU":
            resources.extend(self._results(msg, patient_ref, encounter_ref))
        if msg.event == "A40":
            moved = self._merge(msg, resources, patient_ref)
        return Delivery(
            entity=msg.control_id,
            raw=raw,
            resources=resources,
            moved=moved,
            entity_display=f"HL7 v2 {msg.kind} message",
        )

    def _results(
        self, msg: Message, patient_ref: str, encounter_ref: str | None
    ) -> list[dict[str, Any]]:
        """OBR starts an order; the OBX segments after it are its results."""
        out: list[dict[str, Any]] = []
        current: tuple[Any, list[dict[str, Any]]] | None = None
        groups: list[tuple[Any, list[dict[str, Any]]]] = []
        for segment in msg.segments:
            if segment.name == "OBR":
                current = (segment, [])
                groups.append(current)
            elif segment.name == "OBX":
                if current is None:
                    raise MessageError("An OBX segment comes before any OBR segment.")
                current[1].append(
                    seg.observation(
                        segment, current[0], self.source, self.terms, patient_ref, encounter_ref
                    )
                )
        if not groups:
            raise MessageError("ORU^R01 has no OBR segment.")
        for obr, results in groups:
            out.extend(results)
            refs = [f"Observation/{r['id']}" for r in results]
            out.append(seg.report(obr, self.source, self.terms, patient_ref, refs))
        return out

    def _merge(
        self, msg: Message, resources: list[dict[str, Any]], survivor_ref: str
    ) -> list[dict[str, Any]]:
        """A40: link both Patients and move every reference from the prior one."""
        mrg = msg.first("MRG")
        if mrg is None or not mrg.get(1):
            raise MessageError("ADT^A40 needs an MRG segment with the prior patient identifier.")
        prior_ids = [
            {"system": self.source.identifier_system(rep.get(4, "")), "value": rep[1]}
            for rep in mrg.repetitions(1)
            if rep.get(1)
        ]
        prior_ref = self.writer.match_patient(prior_ids, follow=False) or _patient_ref(prior_ids[0])
        if prior_ref == survivor_ref:
            raise MessageError("MRG-1 names the same patient as PID-3; nothing to merge.")
        prior_id = prior_ref.split("/", 1)[1]
        if not resources or resources[0].get("resourceType") != "Patient":
            raise MessageError("PID-3 of the A40 names a patient that was itself merged away.")
        survivor = resources[0]
        survivor["link"] = [{"other": {"reference": prior_ref}, "type": "replaces"}]
        prior = self.writer.current("Patient", prior_id) or {
            "resourceType": "Patient",
            "id": prior_id,
            "identifier": prior_ids,
        }
        prior = {**prior, "active": False}
        links = [x for x in prior.get("link") or [] if x.get("type") != "replaced-by"]
        prior["link"] = [*links, {"other": {"reference": survivor_ref}, "type": "replaced-by"}]
        resources.append(prior)
        moved: list[dict[str, Any]] = []
        for rtype in MOVED_TYPES:
            for found in self.writer.referencing(rtype, prior_ref):
                moved.append(_repoint(found, prior_ref, survivor_ref))
        return moved


def _patient_ref(ident: dict[str, Any]) -> str:
    return f"Patient/{patient_id(str(ident['system']), str(ident['value']))}"


def _repoint(node: Any, old: str, new: str) -> Any:
    if isinstance(node, dict):
        return {
            k: (new if k == "reference" and v == old else _repoint(v, old, new))
            for k, v in node.items()
        }
    if isinstance(node, list):
        return [_repoint(x, old, new) for x in node]
    return node


def _control_id(raw: bytes) -> str:
    """MSH-10 read without parsing, for the answer to a message that does not parse."""
    first = raw.lstrip(b"\x0b").split(b"\r", 1)[0].split(b"\n", 1)[0]
    fields = first.decode("latin-1").split("|")
    return fields[9][:64] if len(fields) > 9 and first.startswith(b"MSH") else ""


def _escape(text: str) -> str:
    return (
        text.replace("\\", "\\E\\")
        .replace("|", "\\F\\")
        .replace("^", "\\S\\")
        .replace("&", "\\T\\")
        .replace("~", "\\R\\")
    )


def _now() -> str:
    return datetime.now(UTC).strftime("%Y%m%d%H%M%S+0000")


def ack_message(
    msg: Message | None, code: str, reason: str | None, *, fields: list[str] | None = None
) -> bytes:
    """The ACK (v2 §2.9.2, original mode): MSH, MSA with the code and the message's control id,
    and for AE/AR an ERR with HL7 error code 207 (application error) or 200 (unsupported)."""
    if msg is not None:
        sender, facility, event, version, control = (
            msg.sending_application,
            msg.sending_facility,
            msg.event,
            msg.version or "2.5",
            msg.control_id,
        )
    else:
        f = fields or []
        sender, facility, control = _at(f, 2), _at(f, 3), _at(f, 9)
        parts = _at(f, 8).split("^")
        event = parts[1] if len(parts) > 1 else ""
        version = _at(f, 11) or "2.5"
    stamp = _now()
    lines = [
        f"MSH|^~\\&|BEDSIDE|BEDSIDE|{_escape(sender)}|{_escape(facility)}|{stamp}||ACK^{_escape(event)}^ACK"
        f"|ACK{secrets.token_hex(6)}|P|{_escape(version)}",
        f"MSA|{code}|{_escape(control)}" + (f"|{_escape(reason)}" if reason else ""),
    ]
    if code != "AA" and reason:
        err = (
            "200^Unsupported message type^HL70357"
            if code == "AR"
            else "207^Application internal error^HL70357"
        )
        lines.append(f"ERR|||{err}|E||||{_escape(reason)}")
    return ("\r".join(lines) + "\r").encode("utf-8")


def ack_for_raw(raw: bytes, code: str, reason: str) -> bytes:
    first = raw.lstrip(b"\x0b").split(b"\r", 1)[0].split(b"\n", 1)[0].decode("latin-1")
    fields = first.split("|") if first.startswith("MSH") else []
    return ack_message(None, code, reason, fields=fields)


def _at(fields: list[str], i: int) -> str:
    return fields[i] if len(fields) > i else ""
