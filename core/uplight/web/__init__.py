"""The web surfaces: public pages, health, (later) admin API and metrics."""

from .app import create_app

__all__ = ["create_app"]
