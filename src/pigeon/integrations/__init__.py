"""Integrations of the SDK with host frameworks.

- :mod:`pigeon.integrations.asgi`: a pure ASGI middleware and error reporting for
  Starlette and FastAPI apps (``UserInfoRequested``, ``LogRecordsRequested``,
  ``ServerErrorFound``).
- :mod:`pigeon.integrations.trainer`: ``TrainerUsage`` from ML training wrappers.

Neither imports a framework: both work with the standard library and whatever
the host app already has.
"""
