"""Stores: where the collector keeps events and rollups (``sqlite://``, ``clickhouse://``)."""
