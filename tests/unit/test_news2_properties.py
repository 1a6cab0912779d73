"""NEWS2 (RCP 2017): a form's text, properties over random sets, and the package itself (pure,
its public API sorted and complete); docs/news2.md."""

from __future__ import annotations

import ast
import dataclasses
import itertools
from decimal import Decimal
from pathlib import Path
from types import ModuleType

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bedside.clinical import (
    news2,
    news2_check,
    news2_codes,
    news2_fhir,
    news2_form,
    news2_read,
    news2_risk,
)
from bedside.clinical.news2 import (
    Band,
    Consciousness,
    News2Inputs,
    Parameter,
    SpO2Scale,
    assess,
    risk_band,
)
from bedside.clinical.news2_form import assess_form
from tests.unit.test_news2 import FIELDS, scored

# --- a form's text ------------------------------------------------------------------------------


def test_a_form_is_scored_as_typed() -> None:
    form = {
        "respiration_rate": "22",
        "spo2": "95",
        "spo2_scale": "2",
        "air_or_oxygen": "oxygen",
        "systolic_bp": "105",
        "pulse": "95",
        "consciousness": "new-confusion",
        "temperature": "38.1",
    }
    found = assess_form(form)
    assert found.total == 2 + 2 + 2 + 1 + 1 + 3 + 1
    assert found.inputs.spo2_scale is SpO2Scale.SCALE_2
    assert found.band is Band.HIGH
    assert assess_form({**form, "spo2_scale": "Scale 1"}).scores[Parameter.SPO2] == 1
    assert assess_form({**form, "consciousness": "New confusion"}).total == found.total


def test_a_form_with_empty_fields_is_incomplete_and_bad_text_is_refused() -> None:
    found = assess_form(
        {"respiration_rate": " 18 ", "spo2": "", "pulse": "9O", "temperature": "37,2"}
    )
    assert found.scores == {Parameter.RESPIRATION_RATE: 0}
    assert set(found.refused) == {Parameter.PULSE, Parameter.TEMPERATURE}
    assert Parameter.PULSE not in found.missing and Parameter.SPO2 in found.missing
    assert found.refused[Parameter.PULSE] == "Pulse must be a whole number of beats per minute."
    assert found.total is None
    odd = assess_form({**dict.fromkeys(news2_form.FORM_FIELDS, "x"), "spo2_scale": "3"})
    assert set(odd.refused) == set(Parameter)


# --- properties ---------------------------------------------------------------------------------

readings = st.builds(
    News2Inputs,
    respiration_rate=st.integers(0, 80),
    spo2=st.integers(50, 100),
    spo2_scale=st.sampled_from(SpO2Scale),
    on_oxygen=st.booleans(),
    systolic_bp=st.integers(40, 300),
    pulse=st.integers(20, 250),
    consciousness=st.sampled_from(Consciousness),
    temperature=st.integers(250, 450).map(lambda t: Decimal(t) / 10),
)


@given(readings)
def test_every_plausible_set_is_scored_and_the_aggregate_is_the_sum(inputs: News2Inputs) -> None:
    found = assess(inputs)
    assert found.complete and set(found.scores) == set(Parameter)
    assert all(0 <= s <= 3 for s in found.scores.values())
    assert found.total == sum(found.scores.values())
    assert found.band is risk_band(sum(found.scores.values()), max(found.scores.values()))


@given(readings, st.sampled_from(list(Parameter)))
def test_leaving_any_reading_out_never_gives_a_score(
    inputs: News2Inputs, parameter: Parameter
) -> None:
    found = assess(dataclasses.replace(inputs, **{FIELDS[parameter]: None}))
    assert found.total is None and found.band is None
    assert parameter in found.missing


ORDER = list(Band)


@given(st.integers(0, 20), st.integers(0, 20), st.integers(0, 3), st.integers(0, 3))
def test_the_band_never_falls_as_the_aggregate_or_the_highest_score_rises(
    a: int, b: int, x: int, y: int
) -> None:
    low, high = sorted((a, b))
    lo_top, hi_top = sorted((x, y))
    assert ORDER.index(risk_band(low, lo_top)) <= ORDER.index(risk_band(high, lo_top))
    assert ORDER.index(risk_band(low, lo_top)) <= ORDER.index(risk_band(low, hi_top))


@pytest.mark.parametrize(
    ("parameter", "low", "normal", "high"),
    [
        (Parameter.RESPIRATION_RATE, 0, 16, 80),
        (Parameter.SYSTOLIC_BP, 40, 150, 300),
        (Parameter.PULSE, 20, 70, 250),
        (Parameter.SPO2, 50, 100, 100),
    ],
)
def test_scores_rise_away_from_the_normal_range(
    parameter: Parameter, low: int, normal: int, high: int
) -> None:
    scores = [scored(parameter, v) for v in range(low, high + 1)]
    at = normal - low
    assert all(a >= b for a, b in itertools.pairwise(scores[: at + 1]))
    assert all(a <= b for a, b in itertools.pairwise(scores[at:]))


def test_temperature_scores_fall_then_rise_over_every_tenth() -> None:
    scores = [scored(Parameter.TEMPERATURE, Decimal(t) / 10) for t in range(250, 451)]
    at = 370 - 250
    assert all(a >= b for a, b in itertools.pairwise(scores[: at + 1]))
    assert all(a <= b for a, b in itertools.pairwise(scores[at:]))


# --- the package: pure, and its public API ------------------------------------------------------

MODULES = [news2, news2_check, news2_codes, news2_fhir, news2_form, news2_read, news2_risk]


@pytest.mark.parametrize("module", MODULES, ids=lambda m: m.__name__)
def test_the_clinical_package_imports_only_the_standard_library_and_itself(
    module: ModuleType,
) -> None:
    assert module.__file__ is not None
    tree = ast.parse(Path(module.__file__).read_text())
    found = {
        alias.name if isinstance(node, ast.Import) else node.module or ""
        for node in ast.walk(tree)
        if isinstance(node, ast.Import | ast.ImportFrom)
        for alias in node.names
    }
    ours = {name for name in found if name.split(".")[0] == "bedside"}
    assert all(n.startswith("bedside.clinical.") or n == "bedside.errors" for n in ours), ours
    stdlib = {"__future__", "ast", "collections", "dataclasses", "decimal", "enum", "re"}
    stdlib |= {"types", "typing", "uuid"}
    assert {n.split(".")[0] for n in found - ours} <= stdlib


def _order(name: str) -> tuple[int, str]:
    return (0 if name.isupper() else 1 if name[0].isupper() else 2, name)


@pytest.mark.parametrize("module", MODULES, ids=lambda m: m.__name__)
def test_public_api_is_sorted_and_complete(module: ModuleType) -> None:
    assert module.__all__ == sorted(module.__all__, key=_order)
    assert all(hasattr(module, name) for name in module.__all__)
    defined = {
        name
        for name, value in vars(module).items()
        if not name.startswith("_") and getattr(value, "__module__", None) == module.__name__
    }
    assert defined <= set(module.__all__)
