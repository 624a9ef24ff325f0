"""Status pages: snapshots, views, the single-flight cache, provisioning, editing, and their store."""
