"""The domain: records, families, lifecycles and the create functions every caller uses (no HTTP, no Docker)."""
