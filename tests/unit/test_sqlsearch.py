"""SQL built for number and quantity comparisons (search.html#prefix)."""

from __future__ import annotations

from bedside.fhir.search.values import RangeValue
from bedside.store.sqlsearch import _number


def test_approximate_number_range_is_ordered_for_negative_values() -> None:
    text, args = _number(RangeValue("ap", -10.5, -9.5, value=-10.0))
    assert text == "value >= ? AND value <= ?"
    assert args == [-11.0, -9.0]


def test_approximate_number_range_spans_ten_percent_either_side() -> None:
    _, args = _number(RangeValue("ap", 99.5, 100.5, value=100.0))
    assert args == [90.0, 110.00000000000001]
