"""Persistence: one SQLite file through aiosqlite, one writer task."""
