"""Authentication: API tokens."""
