"""FHIR Subscriptions (R4 Subscriptions Backport IG), fed by the change feed (ADR 0012).

:mod:`.spec` reads a Subscription, :mod:`.records` keeps its state, :mod:`.events` builds
notifications with the owner's access decided at send time, :mod:`.dispatch` is the background
sender and :mod:`.service` the caller-bound API behind ``/fhir/Subscription``.
"""

__all__: list[str] = []
