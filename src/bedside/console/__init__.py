"""The governance console's services (docs/console.md): caller-bound, role-checked, audited.
The pages (:mod:`bedside.web.console_pages`) parse, call these and render."""

__all__: list[str] = []
