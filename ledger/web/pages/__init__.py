"""The staff web pages: server-rendered HTML over the same query and export services as the API.

No JavaScript: links, GET forms for filters and sorting, POST forms (with the session's CSRF token) for
actions. Every page route has its entry in the access table with ``interface=Interface.WEB``.
"""
