"""Bedside: an offline-first clinical data access layer (FHIR R4 server, SMART, device node, sync)."""

__version__ = "0.1.0"
