"""Maintenance windows: lifecycle on the clock, recurring schedules, and their store."""
