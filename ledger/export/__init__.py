"""Regulator bundles (spec 6.8, 6.12): the export document and its human-readable report.

- ``report``: ``render_html`` and ``render_pdf`` of an export document (``export.json``).
"""
