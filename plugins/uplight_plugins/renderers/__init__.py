"""Built-in public renderers."""
