"""Bedside: an offline-first clinical data access layer.

A FHIR R4 server with SMART authorization, a device node and sync.
"""

__all__: list[str] = []

__version__ = "0.1.0"
