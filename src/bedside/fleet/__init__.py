"""The server's device registry: enrolled devices, their status, pins and escrowed keys.

A device enrols while its user is signed in online (``POST /device/register``); from then on the
grant it holds is bound to it, so every refreshed access token names the device (claim
``device``). An administrator can revoke a device (its grants stop at once) or flag it for wipe
(it learns so at its next contact and destroys its keys). See docs/device-registry.md.

* :mod:`bedside.fleet.registry`   the tables: register, status changes, pins
* :mod:`bedside.fleet.enrolment`  what a registration request must contain
* :mod:`bedside.fleet.access`     who may do what (device, pins by policy, administrators)
* :mod:`bedside.fleet.escrow`     the escrow keys, sealed at rest by a server key
* :mod:`bedside.fleet.client`     the built-in OAuth client ``bedside-device``
* :mod:`bedside.fleet.audit`      the audit entries every registry decision produces

The device side (the app, its encrypted store and keys) is :mod:`bedside.device`.
"""

__all__: list[str] = []
