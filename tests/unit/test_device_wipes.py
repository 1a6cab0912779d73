"""The words the console and `bedside admin device list` use for a wipe (devices/wipes.py)."""

from __future__ import annotations

import pytest

from bedside.errors import InvalidRequest
from bedside.fleet.wipes import parse, short, words


def test_drained_undrained_ordered_and_active_are_said_plainly() -> None:
    drained = {"reported": "x", "sent": 4, "lost": 0, "drained": True}
    lost = {"reported": "x", "sent": 1, "lost": 3, "drained": False}
    assert words("wipe", drained).startswith("Wiped after sending everything")
    assert "3 events recorded on it never reached the server" in words("wipe", lost)
    assert "1 event recorded" in words("wipe", {**lost, "lost": 1})
    assert words("wipe", None).startswith("Not wiped yet")
    assert words("active", None) == "" and short("active", None) == ""
    assert (short("wipe", drained), short("wipe", lost), short("wipe", None)) == (
        "drained",
        "3 lost",
        "ordered",
    )


@pytest.mark.parametrize(
    "body", [None, [], {"sent": 1}, {"sent": -1, "lost": 0}, {"sent": True, "lost": 0}]
)
def test_a_malformed_report_is_refused(body: object) -> None:
    with pytest.raises(InvalidRequest):
        parse(body)
    assert parse({"sent": 2, "lost": 0}) == (2, 0)
