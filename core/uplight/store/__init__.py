"""Persistence: one SQLite file through aiosqlite, one writer task."""

from .database import Store, StoreFacts, retention_cutoff
from .results import DailyRollup, StoredResult

__all__ = ["DailyRollup", "Store", "StoreFacts", "StoredResult", "retention_cutoff"]
