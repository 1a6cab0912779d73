"""Prometheus metrics (docs/operations.md): the registry, its seams and who may scrape it."""

__all__: list[str] = []
