"""Placeholder: the json renderer is being written."""
