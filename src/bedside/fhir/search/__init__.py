"""FHIR search (search.html): parameter registry, index extraction, query parsing."""
