"""Placeholder: the rss renderer is being written."""
