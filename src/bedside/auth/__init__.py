"""Authorization: scopes, the caller's grant, server keys and tokens."""
