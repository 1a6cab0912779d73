"""The JSON body parser's nesting limit (issue 13, finding 9)."""

from __future__ import annotations

import pytest

from bedside.errors import InvalidRequest
from bedside.fhir.json_body import MAX_DEPTH, loads


def nested(levels: int) -> bytes:
    """A value ``levels`` containers deep, alternating objects and arrays."""
    text = "1"
    for i in range(levels):
        text = f'{{"a": {text}}}' if i % 2 else f"[{text}]"
    return text.encode()


def test_body_at_the_limit_is_parsed() -> None:
    assert loads(nested(MAX_DEPTH)) is not None


@pytest.mark.parametrize("levels", [MAX_DEPTH + 1, 300, 1000])
def test_body_past_the_limit_is_a_structure_error(levels: int) -> None:
    with pytest.raises(InvalidRequest) as exc:
        loads(nested(levels))
    assert exc.value.status == 400
    assert "deeper than" in str(exc.value)


def test_wide_shallow_body_is_not_refused() -> None:
    assert len(loads(b"[" + b",".join([b'{"a": [1]}'] * 10_000) + b"]")) == 10_000


def test_invalid_json_is_a_structure_error() -> None:
    with pytest.raises(InvalidRequest):
        loads(b'{"resourceType": ')
