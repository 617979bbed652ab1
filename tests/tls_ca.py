"""A throw-away test CA and a server certificate signed by it, made with ``openssl``.

Used by the TLS tests: the PACS behind HTTPS (``tests/pacs``) and netlm behind
a TLS reverse proxy (``tests/api/test_behind_tls_proxy.py``).
"""

from __future__ import annotations

import subprocess
from collections.abc import Sequence
from pathlib import Path


def _openssl(*args: str) -> None:
    subprocess.run(["openssl", *args], check=True, capture_output=True, timeout=60)


def make_certificates(folder: Path, names: Sequence[str] = ("IP:127.0.0.1",)) -> dict[str, Path]:
    """A test CA, a key and certificate for ``names`` signed by it, and an unrelated CA.

    ``names`` are the server certificate's subjectAltName entries (``IP:…``,
    ``DNS:…``); the first one, without its prefix, is also its common name.
    Returns the paths ``ca`` and ``other_ca`` (PEM certificates; the other signed
    nothing), ``certificate`` and ``key`` (the server's, PEM).
    """
    folder.mkdir(parents=True, exist_ok=True)
    for name in ("ca", "other-ca"):
        _openssl(
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
            "-subj", f"/CN=netlm test {name}",
            "-keyout", str(folder / f"{name}.key"), "-out", str(folder / f"{name}.pem"),
        )  # fmt: skip
    common_name = names[0].split(":", 1)[1]
    _openssl(
        "req", "-newkey", "rsa:2048", "-nodes", "-subj", f"/CN={common_name}",
        "-keyout", str(folder / "server.key"), "-out", str(folder / "server.csr"),
    )  # fmt: skip
    (folder / "san.ext").write_text(f"subjectAltName={','.join(names)}\n")
    _openssl(
        "x509", "-req", "-in", str(folder / "server.csr"), "-days", "2",
        "-CA", str(folder / "ca.pem"), "-CAkey", str(folder / "ca.key"), "-CAcreateserial",
        "-extfile", str(folder / "san.ext"), "-out", str(folder / "server.crt"),
    )  # fmt: skip
    return {
        "ca": folder / "ca.pem",
        "other_ca": folder / "other-ca.pem",
        "certificate": folder / "server.crt",
        "key": folder / "server.key",
    }
