"""FHIR R4 privacy Consents (consent.html, scope ``patient-privacy``): who may see what of a
patient's record, for which purpose, until when.

Consent is the patient's word, so Bedside enforces exactly what it can evaluate and refuses the
rest at write time instead of storing a Consent it would silently half-honour:

* :mod:`~bedside.consent.rules`     what a Consent write may contain and how its status may move
* :mod:`~bedside.consent.evaluate`  Consents → :class:`~bedside.policy.model.Share` and
  :class:`~bedside.policy.model.Refusal` values for one actor at one instant (pure)
* :mod:`~bedside.consent.changes`   revocation and expiry entries in the change feed, so devices
  know what to drop
* :mod:`~bedside.consent.wording`   a Consent in plain words for the patient

See docs/consent.md.
"""

__all__: list[str] = []
