"""Upstream EHR ingest: FHIR R4 servers and HL7 v2 feeds into one canonical record
(docs/upstream.md).

::

    upstream.toml ──► config.py ──► service.Upstream ─┬─► fhir_pull.FhirPull (history / search,
                                                      │     fhir_bulk $export, credentials)
                                                      └─► hl7_feed.Hl7Feed ◄── mllp.MllpServer
                                                              │  hl7_message (hl7apy), hl7_segments,
                                                              │  hl7_vocabulary, terminology
                                                              ▼
                               canonical.Writer: deterministic ids, Provenance per version,
                               one transaction Bundle through rest.Repository (system caller)
                                                              │
                               ledger.py: seen entities, marks, dead letters, held variants
"""

from bedside.upstream.config import UpstreamConfig, UpstreamError, load
from bedside.upstream.service import Upstream

__all__ = [
    "Upstream",
    "UpstreamConfig",
    "UpstreamError",
    "load",
]
