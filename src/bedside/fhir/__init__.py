"""Pure FHIR R4: resource types, validation, references, search parameters, outcomes.

Nothing here knows the web framework or the database.
"""

__all__: list[str] = []
