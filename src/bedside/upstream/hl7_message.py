"""An HL7 v2 message parsed by ``hl7apy`` into plain values the mappings read.

``hl7apy`` does the parsing (segments, fields, repetitions, components, the encoding
characters of MSH-2); this module flattens its tree into positions so a mapping says
``pid.get(3, 4)`` (PID-3.4) and never walks library objects, and it resolves the escape
sequences of v2 §2.7 (``\\F\\ \\S\\ \\T\\ \\R\\ \\E\\``). A message that cannot be parsed is a
:class:`MessageError` whose reason names the problem and never the content (PHI).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Final

from hl7apy.consts import VALIDATION_LEVEL
from hl7apy.exceptions import HL7apyException
from hl7apy.parser import parse_message

from bedside.errors import BedsideError

__all__ = [
    "Message",
    "MessageError",
    "Segment",
    "parse",
]

_POSITION: Final = re.compile(r"[A-Z0-9]+_(\d+)")
_SUPPORTED: Final = {("ADT", e) for e in ("A01", "A02", "A03", "A04", "A08", "A11", "A13", "A40")}
_SUPPORTED_ALL: Final = _SUPPORTED | {("ORU", "R01")}


class MessageError(BedsideError):
    """A message that cannot be used: ``code`` is the ACK code (AE: application error, the
    sender may fix and resend; AR: rejected, e.g. an unsupported message type)."""

    def __init__(self, reason: str, code: str = "AE") -> None:
        super().__init__(reason)
        self.reason = reason
        self.code = code


@dataclass(frozen=True)
class Segment:
    name: str
    #: field number → repetitions → component number → value (unescaped)
    fields: dict[int, list[dict[int, str]]] = field(default_factory=dict)

    def get(self, number: int, component: int = 1, repetition: int = 0) -> str:
        reps = self.fields.get(number, [])
        if repetition >= len(reps):
            return ""
        return reps[repetition].get(component, "")

    def repetitions(self, number: int) -> list[dict[int, str]]:
        return self.fields.get(number, [])


@dataclass(frozen=True)
class Message:
    segments: tuple[Segment, ...]
    control_id: str
    message_type: str  # MSH-9.1, e.g. ADT
    event: str  # MSH-9.2, e.g. A01
    version: str
    sent: str  # MSH-7
    sending_application: str
    sending_facility: str
    encoding: str = "^~\\&"

    def first(self, name: str) -> Segment | None:
        return next((s for s in self.segments if s.name == name), None)

    def all(self, name: str) -> list[Segment]:
        return [s for s in self.segments if s.name == name]

    @property
    def kind(self) -> str:
        return f"{self.message_type}^{self.event}"


def parse(raw: bytes) -> Message:
    """Parse one message (bytes as received; segments end with CR, LF or CRLF)."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        text = raw.decode("latin-1")
    text = text.replace("\r\n", "\r").replace("\n", "\r").strip("\r\x0b\x1c ")
    if not text.startswith("MSH"):
        raise MessageError("The message does not start with an MSH segment.", "AR")
    if len(text) < 8:
        raise MessageError("The MSH segment is too short to name its encoding characters.", "AR")
    try:
        tree = parse_message(text, find_groups=False, validation_level=VALIDATION_LEVEL.TOLERANT)
    except HL7apyException as exc:
        raise MessageError(
            f"The message could not be parsed as HL7 v2 ({type(exc).__name__}).", "AE"
        ) from None
    except (ValueError, KeyError, IndexError, AttributeError, TypeError):
        raise MessageError("The message could not be parsed as HL7 v2.", "AE") from None
    encoding = text[4:8]
    try:
        segments = tuple(_segment(s, encoding) for s in tree.children)
    except (HL7apyException, ValueError, KeyError, IndexError, AttributeError, TypeError):
        raise MessageError("The message could not be parsed as HL7 v2.", "AE") from None
    msh = segments[0]
    message = Message(
        segments=segments,
        control_id=msh.get(10),
        message_type=msh.get(9, 1),
        event=msh.get(9, 2),
        version=msh.get(12),
        sent=msh.get(7),
        sending_application=msh.get(3),
        sending_facility=msh.get(4),
        encoding=encoding,
    )
    if not message.control_id:
        raise MessageError("MSH-10 (message control id) is empty.", "AR")
    if (message.message_type, message.event) not in _SUPPORTED_ALL:
        raise MessageError(
            f"Message type {message.kind} is not supported "
            "(ADT A01, A02, A03, A04, A08, A11, A13, A40 and ORU R01 are).",
            "AR",
        )
    return message


def _segment(node: Any, encoding: str) -> Segment:
    """MSH-2 is component, repetition, escape and subcomponent characters, in that order."""
    sub = encoding[3:4] or "&"
    fields: dict[int, list[dict[int, str]]] = {}
    for f in node.children:
        m = _POSITION.fullmatch(f.name) if isinstance(f.name, str) else None
        if m is None:
            continue
        number = int(m.group(1))
        components: dict[int, str] = {}
        children = list(f.children)
        if node.name == "MSH" and number in (1, 2):
            components[1] = f.to_er7()
        elif not children:
            components[1] = _unescape(f.to_er7(), encoding)
        else:
            for i, c in enumerate(children, start=1):
                cm = _POSITION.fullmatch(c.name) if isinstance(c.name, str) else None
                pos = int(cm.group(1)) if cm else i
                components[pos] = _unescape(c.to_er7().split(sub)[0], encoding)
        fields.setdefault(number, []).append(components)
    return Segment(node.name, fields)


def _unescape(value: str, encoding: str) -> str:
    """v2 §2.7.4: the escape sequences of the delimiters (others are left as they are)."""
    escape = encoding[2:3] or "\\"
    if escape not in value:
        return value
    table = {
        "F": "|",
        "S": encoding[0:1],
        "R": encoding[1:2],
        "E": escape,
        "T": encoding[3:4] or "&",
    }

    def swap(m: re.Match[str]) -> str:
        return table.get(m.group(1), m.group(0))

    return re.sub(re.escape(escape) + r"([FSRET])" + re.escape(escape), swap, value)
