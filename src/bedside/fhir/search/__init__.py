"""FHIR search (search.html): parameter registry, index extraction, query parsing."""

__all__: list[str] = []
