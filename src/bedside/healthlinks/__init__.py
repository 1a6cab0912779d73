"""SMART Health Links (HL7 SMART Health Cards and Links IG 1.0.0): a patient's share with
"anyone holding the link" (docs/portal.md).

``payload`` builds and checks the ``shlink:/`` payload, ``files`` encrypts the shared Bundle as
JWE, ``records`` is the one module with SQL on the ``health_links`` table, ``service`` is the
caller-bound create / list / revoke and the public manifest request.
"""

__all__: list[str] = []
