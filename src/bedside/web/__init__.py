"""HTTP wiring: the ASGI app, its routes, and the mapping of FHIR outcomes to HTTP."""

__all__: list[str] = []
