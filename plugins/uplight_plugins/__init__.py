"""Built-in uplight plugins: check types, notifiers and renderers, using only the public API."""
