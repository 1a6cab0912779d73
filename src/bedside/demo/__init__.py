"""Synthetic demo data for Bedside: clinically plausible, entirely invented patients."""

__all__: list[str] = []
