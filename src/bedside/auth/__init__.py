"""Authorization: scopes, the caller's grant, server keys and tokens."""

__all__: list[str] = []
