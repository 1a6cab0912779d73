"""The clinician app: a web app the device node serves on loopback (docs/clinician-app.md).

It reads and writes only through :class:`bedside.device.Node` (never the store itself) and the
pure clinical rules in :mod:`bedside.clinical`; it imports nothing of the server (``auth``,
``store``, ``rest``, ``web``, ``sync``, ``policy``), which ``tests/unit/test_clinician_app.py``
holds. One module per concern:

* :mod:`~bedside.device.app.gate`, :mod:`~bedside.device.app.guard`   who may use it: launch
  token, session cookie, Host check, CSRF, no-store and CSP on every answer
* :mod:`~bedside.device.app.pages`    templates, the status strip, device errors as pages
* :mod:`~bedside.device.app.unlock`   the PIN screen
* :mod:`~bedside.device.app.patients` my patients, search
* :mod:`~bedside.device.app.chart`, :mod:`~bedside.device.app.summary`   the chart
* :mod:`~bedside.device.app.observe`  recording a NEWS2 set
* :mod:`~bedside.device.app.trend`, :mod:`~bedside.device.app.news2_svg`   the NEWS2 chart
* :mod:`~bedside.device.app.outbox`, :mod:`~bedside.device.app.syncer`   sync and the outbox
* :mod:`~bedside.device.app.pinning`  pinning a patient (online only)
* :mod:`~bedside.device.app.server`   building and running it (``bedside device app``)
"""

from bedside.device.app.gate import Gate
from bedside.device.app.server import build_app, serve

__all__ = ["Gate", "build_app", "serve"]
