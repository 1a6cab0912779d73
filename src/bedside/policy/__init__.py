"""Access policy: who may do what to which patient's data, decided in one place.

The FHIR API (per request) and sync (per pull and per pushed event) both ask
:func:`bedside.policy.decide.view_for` for a caller's :class:`~bedside.policy.model.AccessView`
and turn it into row visibility (:mod:`bedside.rest.access`). See docs/policy.md.
"""

__all__: list[str] = []
