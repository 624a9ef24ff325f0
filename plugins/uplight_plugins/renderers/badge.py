"""Placeholder: the badge renderer is being written."""
