"""Hostile or broken HL7 v2 never crashes the parser or the segment maps: every input either
parses into a Message or raises MessageError with a reason that quotes nothing from it."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from bedside.upstream.config import Hl7Source
from bedside.upstream.hl7_message import MessageError, parse
from bedside.upstream.hl7_segments import (
    allergy,
    condition,
    encounter,
    observation,
    patient,
    patient_identifiers,
    related_person,
    report,
)
from bedside.upstream.terminology import Terminology
from tests.integration import _hl7_messages as hl7

SOURCE = Hl7Source(name="adt", system="urn:bedside:upstream:adt", mllp_port=1)
SECRET = "Zyxwvut"  # stands for PHI in a field: must never appear in a reason
_field = st.text(alphabet="ABC123^~&\\|.- " + SECRET, max_size=30)


def _mutate(base: bytes, data: st.DataObject) -> bytes:
    lines = base.decode().split("\r")
    i = data.draw(st.integers(0, len(lines) - 2))
    parts = lines[i].split("|")
    j = data.draw(st.integers(1, max(1, len(parts) - 1))) if i or len(parts) > 2 else 1
    if i == 0 and j <= 1:
        j = 2
    while len(parts) <= j:
        parts.append("")
    parts[j] = data.draw(_field)
    lines[i] = "|".join(parts)
    return "\r".join(lines).encode()


@settings(max_examples=150, deadline=None)
@given(data=st.data(), base=st.sampled_from([*hl7.STORY, hl7.BAD_RESULT]))
def test_mutated_messages_parse_or_say_why(data: st.DataObject, base: bytes) -> None:
    raw = _mutate(base, data)
    try:
        msg = parse(raw)
    except MessageError as exc:
        assert SECRET not in exc.reason
        return
    for build in _maps(msg):
        try:
            build()
        except MessageError as exc:
            assert SECRET not in exc.reason


def _maps(msg: object) -> list:  # type: ignore[type-arg]
    from bedside.upstream.hl7_message import Message

    assert isinstance(msg, Message)
    out = []
    pid, pv1, obr = msg.first("PID"), msg.first("PV1"), msg.first("OBR")
    if pid is not None:
        out += [lambda: patient_identifiers(pid, SOURCE), lambda: patient(pid, SOURCE, "p")]
    if pv1 is not None:
        out.append(lambda: encounter(pv1, SOURCE, "Patient/p", msg.event))
    for obx in msg.all("OBX"):
        out.append(lambda obx=obx: observation(obx, obr, SOURCE, Terminology(), "Patient/p", None))
    if obr is not None:
        out.append(lambda: report(obr, SOURCE, Terminology(), "Patient/p", []))
    for s in msg.all("NK1"):
        out.append(lambda s=s: related_person(s, SOURCE, "Patient/p"))
    for s in msg.all("AL1"):
        out.append(lambda s=s: allergy(s, SOURCE, "Patient/p"))
    for s in msg.all("DG1"):
        out.append(lambda s=s: condition(s, SOURCE, "Patient/p", None))
    return out


@settings(max_examples=100, deadline=None)
@given(raw=st.binary(max_size=300))
def test_random_bytes_never_crash_the_parser(raw: bytes) -> None:
    try:
        parse(b"MSH|^~\\&|" + raw)
    except MessageError as exc:
        assert exc.code in ("AE", "AR")
