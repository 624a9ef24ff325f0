"""Monitoring: the scheduler that runs checks on time, and the results and rollups they leave."""
