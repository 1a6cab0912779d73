"""Whole numbers written by someone else (query parameters, headers, pushed events, forms).

``str.isdigit`` is true for ``"¹"`` and ``"²"`` too, which ``int`` refuses: checking with it and
then converting turned such input into a 500. Only ASCII digits count here.
"""

from __future__ import annotations

__all__ = ["is_number"]


def is_number(text: str) -> bool:
    """True when ``text`` is one or more ASCII digits (``int(text)`` then cannot fail)."""
    return text.isascii() and text.isdigit()
