"""Built-in check types: one module per type, each registering itself with a hookimpl."""
