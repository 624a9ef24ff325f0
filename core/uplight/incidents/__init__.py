"""Incidents: the threshold engine that opens and ends them, and their store."""
