"""The collector's address, parsed once with string operations only.

``urllib.parse`` is not used: a client is built on the host's import path, and
the network stack (``socket``, ``ssl``, ``http``, ``urllib``) loads on the
sender thread only, when the first batch leaves.
"""

from __future__ import annotations

from typing import NamedTuple

__all__ = ["Endpoint", "parse_endpoint"]


class Endpoint(NamedTuple):
    """A collector base URL, split.

    Attributes:
        url: the URL as configured, without a trailing slash (for messages).
        https: whether to use TLS.
        host: the host name or IP address (IPv6 without brackets).
        port: the TCP port (the scheme's default when the URL names none).
        path: the base path, without a trailing slash (``""`` at the root).
    """

    url: str
    https: bool
    host: str
    port: int
    path: str

    @property
    def host_header(self) -> str:
        """The value of the ``Host`` header."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        default = 443 if self.https else 80
        return host if self.port == default else f"{host}:{self.port}"


def parse_endpoint(text: str) -> Endpoint:
    """Split an ``http(s)://host[:port][/path]`` URL.

    Raises:
        ValueError: the text is not such a URL; the message says why.
    """
    url = text.strip().rstrip("/")
    scheme, sep, rest = url.partition("://")
    scheme = scheme.lower()
    if not sep or scheme not in ("http", "https"):
        raise ValueError(f"telemetry endpoint must start with http:// or https://, got {text!r}")
    if any(c in rest for c in "?#@ \t\r\n"):
        raise ValueError(
            f"telemetry endpoint must be scheme://host[:port][/path] without credentials, "
            f"query or fragment, got {text!r}"
        )
    authority, slash, path = rest.partition("/")
    path = f"/{path}".rstrip("/") if slash else ""
    https = scheme == "https"
    port_text = ""
    if authority.startswith("["):
        host, bracket, after = authority[1:].partition("]")
        if not bracket or (after and not after.startswith(":")):
            raise ValueError(f"telemetry endpoint has a malformed IPv6 address: {text!r}")
        port_text = after[1:]
        has_port = bool(after)
    else:
        host, colon, port_text = authority.partition(":")
        has_port = bool(colon)
    if not host:
        raise ValueError(f"telemetry endpoint has no host: {text!r}")
    port = 443 if https else 80
    if has_port:
        if not (port_text.isascii() and port_text.isdigit()) or not 0 < int(port_text) < 65536:
            raise ValueError(f"telemetry endpoint has an invalid port: {text!r}")
        port = int(port_text)
    return Endpoint(f"{scheme}://{rest}", https, host, port, path)
