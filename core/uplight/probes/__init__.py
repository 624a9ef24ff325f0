"""Probes: uplight in another place, checking the monitors assigned to its location and
sending the results to the server (docs/probes.md)."""
