"""Regulator bundles (spec 6.8, 6.12): the export document and its human-readable report.

- ``bundle``: ``build_export`` (the document), ``write_bundle`` (the zip), ``record_export`` (the
  ``DataShared`` to the regulator); ``scope`` (what an export holds), ``entries`` (each record with its
  leaf, plaintext and binding), ``views`` (annotations, alerts, requests, holdings, the access pack).
- ``report``: ``render_html`` and ``render_pdf`` of an export document (``export.json``).
- ``verifier``: runs the standalone ``tools/verify_export.py``; ``cli``: ``export`` and ``verify-export``.
"""
