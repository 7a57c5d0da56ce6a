"""The SDK's version, read by the build backend and sent as ``context.library.version``."""

__all__ = ["__version__"]

__version__ = "0.1.0"
