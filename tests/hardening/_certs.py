"""Certificates made at test time with the ``openssl`` CLI: a local CA, a server certificate it
signs, and a self-signed one (the standard library cannot make certificates).
"""

from __future__ import annotations

import shutil
import ssl
import subprocess
from dataclasses import dataclass
from pathlib import Path

_EC = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "1"]


@dataclass(frozen=True)
class Certificates:
    """``ca``: the CA file to trust; ``trusted``/``untrusted``: server contexts for 127.0.0.1."""

    ca: Path
    trusted: ssl.SSLContext
    untrusted: ssl.SSLContext


def _openssl(*args: str, cwd: Path) -> None:
    binary = shutil.which("openssl")
    if binary is None:
        raise RuntimeError("the openssl command is needed to make test certificates")
    subprocess.run([binary, *args], cwd=cwd, check=True, capture_output=True, timeout=60)


def _server_context(directory: Path, name: str) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(directory / f"{name}.pem", directory / f"{name}.key")
    return context


def make_certificates(directory: Path) -> Certificates:
    """A CA (written to ``directory/ca.pem``), a server cert it signs, and a self-signed one."""
    directory.mkdir(parents=True, exist_ok=True)
    _openssl(
        "req", "-x509", *_EC, "-keyout", "ca.key", "-out", "ca.pem",
        "-subj", "/CN=pigeon test CA",
        "-addext", "basicConstraints=critical,CA:TRUE",
        "-addext", "keyUsage=critical,keyCertSign,cRLSign",
        cwd=directory,
    )  # fmt: skip
    _openssl(
        "req", *_EC, "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=127.0.0.1",
        cwd=directory,
    )  # fmt: skip
    (directory / "server.ext").write_text(
        "subjectAltName=IP:127.0.0.1\nbasicConstraints=critical,CA:FALSE\n"
    )
    _openssl(
        "x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
        "-CAcreateserial", "-out", "server.pem", "-days", "1", "-extfile", "server.ext",
        cwd=directory,
    )  # fmt: skip
    _openssl(
        "req", "-x509", *_EC, "-keyout", "rogue.key", "-out", "rogue.pem",
        "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
        cwd=directory,
    )  # fmt: skip
    return Certificates(
        directory / "ca.pem",
        _server_context(directory, "server"),
        _server_context(directory, "rogue"),
    )
