"""The self-hosted collector: ingestion, storage, dashboard and reports.

Needs the ``collector`` extra: ``pip install 'pigeon-telemetry[collector]'``.
"""
