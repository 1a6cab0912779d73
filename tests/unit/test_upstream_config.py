"""upstream.toml is checked whole at start, each mistake one sentence naming where it is."""

from __future__ import annotations

from pathlib import Path

import pytest

from bedside.upstream.config import FhirSource, Hl7Source, UpstreamError, load, parse

EXAMPLE = """
[authority]
patient = "adt"
observation = "lab"

[source.ehr]
kind = "fhir"
base_url = "https://ehr.example.org/fhir/"
token_env = "EHR_TOKEN"
types = ["Patient", "Observation"]
interval = "15m"
patient_identifiers = ["urn:oid:1.2.3"]

[source.adt]
kind = "hl7v2"
mllp_port = 2575
authorities = { HOSP = "urn:oid:1.2.3" }

[source.lab]
kind = "hl7v2"
files = "inbox/lab"
"""


def test_example_parses_into_typed_sources(tmp_path: Path) -> None:
    cfg = parse(EXAMPLE, source="upstream.toml", data_dir=tmp_path)
    ehr, adt, lab = cfg.source("ehr"), cfg.source("adt"), cfg.source("lab")
    assert isinstance(ehr, FhirSource) and ehr.base_url == "https://ehr.example.org/fhir"
    assert (
        ehr.system == ehr.base_url
        and ehr.interval == 900
        and ehr.types == ("Patient", "Observation")
    )
    assert isinstance(adt, Hl7Source) and adt.mllp_port == 2575
    assert adt.identifier_system("HOSP") == "urn:oid:1.2.3"
    assert adt.identifier_system("OTHER") == "urn:bedside:upstream:adt/id/OTHER"
    assert isinstance(lab, Hl7Source) and lab.files == tmp_path / "inbox" / "lab"
    assert cfg.authoritative("Patient") == "adt" and cfg.authoritative("Observation") == "lab"
    assert cfg.authoritative("Encounter") is None
    assert cfg.listens


def test_no_file_means_no_sources(tmp_path: Path) -> None:
    cfg = load(tmp_path / "upstream.toml", tmp_path)
    assert cfg.sources == {} and not cfg.listens


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("[source.x]\nkind = 'ftp'", 'kind must be "fhir" or "hl7v2"'),
        ("[source.Bad]\nkind = 'hl7v2'\nmllp_port = 1", "lower-case letters"),
        ("[source.x]\nkind = 'hl7v2'", "needs mllp_port, files or both"),
        ("[source.x]\nkind = 'hl7v2'\nmllp_port = 70000", "mllp_port must be a TCP port"),
        ("[source.x]\nkind = 'fhir'\nbase_url = 'ftp://x'", "base_url must be an http(s) URL"),
        (
            "[source.x]\nkind = 'fhir'\nbase_url = 'http://x'\ntypes = ['Pateint']",
            "not a FHIR R4 type",
        ),
        (
            "[source.x]\nkind = 'fhir'\nbase_url = 'http://x'\nclient_id = 'a'",
            "needs client_id, token_url and private_key",
        ),
        (
            "[source.x]\nkind = 'fhir'\nbase_url = 'http://x'\ntoken = 'secret'",
            "has no setting token",
        ),
        (
            "[source.x]\nkind = 'fhir'\nbase_url = 'http://x'\ninterval = 'soon'",
            "interval must be a duration",
        ),
        (
            "[source.x]\nkind = 'hl7v2'\nfiles = 'in'\nconcept_map = 'nope.json'",
            "concept_map names a file that does not exist",
        ),
        (
            "[source.a]\nkind = 'hl7v2'\nmllp_port = 2575\n"
            "[source.b]\nkind = 'hl7v2'\nmllp_port = 2575",
            "also used by a",
        ),
        ("[authority]\nvitals = 'x'", "no data class 'vitals'"),
        ("[authority]\npatient = 'nobody'", "names no source"),
        ("[sources.x]\nkind = 'fhir'", "has no table [sources]"),
        ("[source.x\n", "is not valid TOML"),
    ],
)
def test_mistakes_are_one_sentence(tmp_path: Path, text: str, says: str) -> None:
    with pytest.raises(UpstreamError) as err:
        parse(text, source="upstream.toml", data_dir=tmp_path)
    message = str(err.value)
    assert says in message
    assert "\n" not in message.strip() or "TOML" in message


def test_a_bearer_token_is_read_from_the_environment_not_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg = parse(EXAMPLE, source="upstream.toml", data_dir=tmp_path)
    ehr = cfg.source("ehr")
    assert isinstance(ehr, FhirSource)
    monkeypatch.delenv("EHR_TOKEN", raising=False)
    with pytest.raises(UpstreamError, match="EHR_TOKEN is empty"):
        ehr.bearer()
    monkeypatch.setenv("EHR_TOKEN", "abc")
    assert ehr.bearer() == "abc"


def test_unknown_source_names_the_known_ones(tmp_path: Path) -> None:
    cfg = parse(EXAMPLE, source="upstream.toml", data_dir=tmp_path)
    with pytest.raises(UpstreamError, match="known: adt, ehr, lab"):
        cfg.source("nope")
