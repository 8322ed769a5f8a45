"""The staff service (``privacy-ledger serve``): the HTTP API over the same query and export services
the CLI uses, with roles on every route (deny by default) and an audit event for every plaintext read.

Importing this package imports nothing of FastAPI: ``ledger.web.app.create_app`` builds the app.
"""
