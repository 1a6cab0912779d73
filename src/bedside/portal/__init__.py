"""The patient portal's services: a patient's own record in plain words, what they share and
who has seen it (docs/portal.md). Caller-bound, no HTTP: everything reads through
``Repository(store, caller)`` or the audit search, so policy applies as for any app."""

__all__: list[str] = []
