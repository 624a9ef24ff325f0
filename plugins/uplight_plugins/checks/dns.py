"""Placeholder: the dns check type is being written."""
