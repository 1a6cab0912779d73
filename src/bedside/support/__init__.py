"""Support tooling (``bedside support``, docs/support.md): what a device or user is doing,
without more patient data than the question needs."""

__all__: list[str] = []
