"""Sync between devices and the server: the shared signed-event format (docs/sync-protocol.md)."""

__all__: list[str] = []
