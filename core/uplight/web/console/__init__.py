"""The operator console at /admin: server-rendered pages on the admin API's services.

``install.py`` registers it (when ``[admin] enabled``); ``guard.py`` holds the
session, CSRF and header rules every console route goes through; one module per
page after that. See docs/console.md.
"""
