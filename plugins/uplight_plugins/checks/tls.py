"""Placeholder: the tls check type is being written."""
