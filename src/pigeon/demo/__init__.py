"""The demo: a reference labelling server, a traffic generator, and ``pigeon demo``.

- :mod:`pigeon.demo.server`: the ASGI app ``pigeon.demo.server:app``, a small
  Argilla-style labelling server instrumented with the SDK through
  :mod:`pigeon.integrations.asgi` (``uvicorn pigeon.demo.server:app``).
- :mod:`pigeon.demo.traffic`: plays several simulated installs against real
  reference server processes over HTTP.
- :mod:`pigeon.demo.trainer`: a tiny training wrapper that reports
  ``TrainerUsage`` through :mod:`pigeon.integrations.trainer`.

Needs the ``collector`` extra (FastAPI and uvicorn).
"""
