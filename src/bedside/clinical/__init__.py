"""Clinical rules, pure and shared: the device computes them at the bedside and the server
checks them again at commit (brief G3), from the same code.

* :mod:`~bedside.clinical.news2`        the RCP 2017 National Early Warning Score 2: each
  parameter's score, the aggregate, the clinical risk band and the response it calls for
* :mod:`~bedside.clinical.news2_fhir`   a NEWS2 set as FHIR R4 Observations (R4 vital-signs
  profile codes) and back
* :mod:`~bedside.clinical.news2_check`  a stored NEWS2 total recomputed from the Observations it
  is derived from

Nothing here imports the server's packages (``auth``, ``store``, ``rest``, ``web``, ``sync``,
``policy``) or the device's: only the standard library and :mod:`bedside.errors`, so the device
node and the server import the same rules (``tests/unit/test_news2.py`` holds that). See
docs/news2.md.
"""

__all__: list[str] = []
