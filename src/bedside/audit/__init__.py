"""The audit trail: AuditEvents (IHE BALP style), hash-chained, durable before the response."""

__all__: list[str] = []
