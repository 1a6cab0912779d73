"""HL7 v2 test messages for one made-up visit story, and an MLLP client on loopback.

The story: a patient is admitted (A01) to a ward, transferred (A02), has a glucose result
(ORU^R01, a local code the ConceptMap maps to LOINC 2345-7), and is discharged (A03). A second
record of the same person under an old number has its own visit and result, and is merged
into the first (A40). Identifiers are invented; no message comes from a real system.
"""

from __future__ import annotations

import json
import socket
from pathlib import Path

START, END = b"\x0b", b"\x1c\x0d"
MRN_SYSTEM = "urn:oid:2.16.840.1.113883.3.9999.1"
LOCAL_CODES = "urn:bedside:upstream:adt/code/L"


def _msg(*segments: str) -> bytes:
    return ("\r".join(segments) + "\r").encode()


def _msh(event: str, control: str, kind: str = "ADT", structure: str = "ADT_A01") -> str:
    head = "MSH|^~\\&|EHR|HOSP|BEDSIDE|WARD|20260301080000|"
    return f"{head}|{kind}^{event}^{structure}|{control}|P|2.5"


PID = "PID|1||12345^^^HOSP^MR||Example^Alex^^^^^L||19700203|F|||1 Main St^^Town^^AB1 2CD"
PID_OLD = "PID|1||777^^^HOSP^MR||Example^Alex||19700203|F"


def _pv1(visit: str, location: str, prior: str = "", admit: str = "", discharge: str = "") -> str:
    fields = [""] * 46
    fields[0], fields[1], fields[2] = "PV1", "1", "I"
    fields[3] = location
    fields[6] = prior
    fields[19] = f"{visit}^^^HOSP^VN"
    fields[44] = admit
    fields[45] = discharge
    return "|".join(fields)


ADMIT = _msg(
    _msh("A01", "MSG-A01"),
    "EVN|A01|20260301080000",
    PID,
    "NK1|1|Example^Sam|SPO^Spouse^HL70063||555-0100",
    _pv1("V100", "WARD1^101^A", admit="20260301080000"),
    "AL1|1|DA|PCN^Penicillin^L|SV|Rash",
    "DG1|1||I10^Essential hypertension^I10||20260301|A",
)
TRANSFER = _msg(
    _msh("A02", "MSG-A02", structure="ADT_A02"),
    "EVN|A02|20260301120000",
    PID,
    _pv1("V100", "WARD2^201^B", prior="WARD1^101^A", admit="20260301080000"),
)
RESULT = _msg(
    _msh("R01", "MSG-R01", kind="ORU", structure="ORU_R01"),
    PID,
    _pv1("V100", "WARD2^201^B"),
    "OBR|1|ORD-1|LAB-1|GLU^Glucose^L|||20260301130000||||||||||||||||||F",
    "OBX|1|NM|GLU^Glucose^L||5.4|mmol/L^mmol/L^UCUM|3.9-6.1|N|||F|||20260301130000",
)
DISCHARGE = _msg(
    _msh("A03", "MSG-A03", structure="ADT_A03"),
    "EVN|A03|20260302100000",
    PID,
    _pv1("V100", "WARD2^201^B", admit="20260301080000", discharge="20260302100000"),
)
OLD_ADMIT = _msg(
    _msh("A01", "MSG-OLD-A01"),
    "EVN|A01|20260201080000",
    PID_OLD,
    _pv1("V050", "WARD3^301^A", admit="20260201080000"),
)
OLD_RESULT = _msg(
    _msh("R01", "MSG-OLD-R01", kind="ORU", structure="ORU_R01"),
    PID_OLD,
    _pv1("V050", "WARD3^301^A"),
    "OBR|1|ORD-0|LAB-0|GLU^Glucose^L|||20260201130000||||||||||||||||||F",
    "OBX|1|NM|GLU^Glucose^L||6.8|mmol/L^mmol/L^UCUM|3.9-6.1|H|||F|||20260201130000",
)
MERGE = _msg(
    _msh("A40", "MSG-A40", structure="ADT_A39"),
    "EVN|A40|20260303090000",
    PID,
    "MRG|777^^^HOSP^MR",
)
#: Parses, but OBX-5 of a numeric result is not a number: fails mapping.
BAD_RESULT = _msg(
    _msh("R01", "MSG-BAD", kind="ORU", structure="ORU_R01"),
    PID,
    "OBR|1|ORD-2|LAB-2|GLU^Glucose^L|||20260301140000",
    "OBX|1|NM|GLU^Glucose^L||not-a-number|mmol/L|||||F",
)
NOT_HL7 = b"this is not an HL7 message"

STORY = [ADMIT, TRANSFER, RESULT, DISCHARGE, OLD_ADMIT, OLD_RESULT, MERGE]


def concept_map(path: Path) -> Path:
    """A ConceptMap from the feed's local lab codes to LOINC, as an operator would load."""
    path.write_text(
        json.dumps(
            {
                "resourceType": "ConceptMap",
                "status": "active",
                "group": [
                    {
                        "source": LOCAL_CODES,
                        "target": "http://loinc.org",
                        "element": [
                            {
                                "code": "GLU",
                                "target": [
                                    {
                                        "code": "2345-7",
                                        "display": "Glucose [Mass/volume] in Serum or Plasma",
                                        "equivalence": "equivalent",
                                    }
                                ],
                            }
                        ],
                    }
                ],
            }
        )
    )
    return path


def upstream_toml(port: int, cmap: Path) -> str:
    return (
        "[source.adt]\n"
        'kind = "hl7v2"\n'
        f"mllp_port = {port}\n"
        f'authorities = {{ HOSP = "{MRN_SYSTEM}" }}\n'
        f'concept_map = "{cmap}"\n'
        'units = { "mmol/L" = "mmol/L" }\n'
    )


class MllpClient:
    """One TCP connection; each send waits for its framed ACK."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=30)
        self.buf = b""

    def send(self, message: bytes) -> dict[str, str]:
        self.sock.sendall(START + message + END)
        while END not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("the listener closed the connection")
            self.buf += chunk
        framed, _, self.buf = self.buf.partition(END)
        return parse_ack(framed.lstrip(START))

    def close(self) -> None:
        self.sock.close()


def parse_ack(ack: bytes) -> dict[str, str]:
    segments = {line.split("|", 1)[0]: line.split("|") for line in ack.decode().split("\r") if line}
    msa = segments["MSA"]
    return {
        "type": segments["MSH"][8],
        "code": msa[1],
        "control": msa[2],
        "text": msa[3] if len(msa) > 3 else "",
    }
