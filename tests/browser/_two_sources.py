"""Two upstream HL7 v2 feeds about one patient (made up), for the source-line screens: a
hospital laboratory (authoritative for results) and a community clinic. Both send a glucose
result of the same sample time with different values, and the same penicillin allergy with
different reactions; the laboratory also sends a diagnosis. Each feed has its own MLLP port on
loopback."""

from __future__ import annotations

from pathlib import Path

from tests.integration._hl7_messages import MRN_SYSTEM

LAB_NAME = "City Hospital laboratory"
CLINIC_NAME = "Riverside community clinic"
PID = "PID|1||12345^^^HOSP^MR||Example^Alex||19700203|F|||1 Main St^^Town^^AB1 2CD||555-0100"
#: the clinic has an older address and phone for the same person (held: lab is the authority)
CLINIC_PID = "PID|1||12345^^^HOSP^MR||Example^Alex||19700203|F|||9 Old Rd^^Town^^AB9 9ZZ||555-0199"


def upstream_toml(lab_port: int, clinic_port: int) -> str:
    return (
        "[authority]\n"
        'observation = "lab"\n'
        'patient = "lab"\n'
        "[source.lab]\n"
        'kind = "hl7v2"\n'
        f'label = "{LAB_NAME}"\n'
        'system = "urn:oid:2.16.840.1.113883.3.9999.10"\n'
        f"mllp_port = {lab_port}\n"
        f'authorities = {{ HOSP = "{MRN_SYSTEM}" }}\n'
        "[source.clinic]\n"
        'kind = "hl7v2"\n'
        f'label = "{CLINIC_NAME}"\n'
        'system = "urn:oid:2.16.840.1.113883.3.9999.20"\n'
        f"mllp_port = {clinic_port}\n"
        f'authorities = {{ HOSP = "{MRN_SYSTEM}" }}\n'
    )


def write_config(folder: Path, lab_port: int, clinic_port: int) -> Path:
    path = folder / "upstream.toml"
    path.write_text(upstream_toml(lab_port, clinic_port))
    return path


def _msg(*segments: str) -> bytes:
    return ("\r".join(segments) + "\r").encode()


def _msh(sender: str, event: str, control: str, kind: str, structure: str) -> str:
    head = f"MSH|^~\\&|{sender}|HOSP|BEDSIDE|WARD|20260301080000|"
    return f"{head}|{kind}^{event}^{structure}|{control}|P|2.5"


def _pv1(visit: str) -> str:
    fields = [""] * 46
    fields[0], fields[1], fields[2], fields[3] = "PV1", "1", "I", "WARD1^101^A"
    fields[19] = f"{visit}^^^HOSP^VN"
    fields[44] = "20260301080000"
    return "|".join(fields)


def _glucose(sender: str, control: str, order: str, value: str, pid: str = PID) -> bytes:
    return _msg(
        _msh(sender, "R01", control, "ORU", "ORU_R01"),
        pid,
        "OBR|1|" + order + "|" + order + "|2345-7^Glucose^LN|||20260301130000||||||||||||||||||F",
        f"OBX|1|NM|2345-7^Glucose^LN||{value}|mmol/L^mmol/L^UCUM|3.9-6.1|N|||F|||20260301130000",
    )


LAB_ADMIT = _msg(
    _msh("LAB", "A01", "LAB-A01", "ADT", "ADT_A01"),
    "EVN|A01|20260301080000",
    PID,
    _pv1("V100"),
    "AL1|1|DA|PCN^Penicillin^L|SV|Rash",
    "DG1|1||I10^Essential hypertension^I10||20260301|A",
)
CLINIC_ADMIT = _msg(  # the same allergy as the clinic has it: another reaction
    _msh("CLINIC", "A04", "CLINIC-A04", "ADT", "ADT_A01"),
    "EVN|A04|20260301080000",
    CLINIC_PID,
    _pv1("C200"),
    "AL1|1|DA|PCN^Penicillin^L|MO|Hives",
)
LAB_RESULT = _glucose("LAB", "LAB-R01", "ORD-1", "5.4")
CLINIC_RESULT = _glucose("CLINIC", "CLINIC-R01", "C-ORD-1", "5.9", CLINIC_PID)
