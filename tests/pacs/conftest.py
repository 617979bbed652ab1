"""A real Orthanc with its DICOMweb plugin, started for the PACS tests (and a TLS proxy to it).

The fixture writes a configuration into a temporary folder (free loopback
HTTP and DICOM ports, storage in the folder, the DICOMweb plugin, no
authentication), starts ``Orthanc`` as a subprocess, waits until ``/system``
answers and stops it by its pid.  The tests are skipped, naming the reason,
only when the Orthanc binary or the plugin is not installed (``scripts/test.sh``
installs the Debian packages ``orthanc`` and ``orthanc-dicomweb``).
:func:`orthanc_dimse` also registers netlm as a DICOM modality, for C-MOVE.
:func:`orthanc_tls` serves the Orthanc of :func:`orthanc` over HTTPS through a TLS proxy on a free
loopback port, with a certificate of a test CA made with ``openssl`` (Debian's
Orthanc 1.10 resets or crashes on its own HTTPS connections).
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import select
import shutil
import signal
import socket
import ssl
import subprocess
import threading
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import pytest

from tls_ca import make_certificates

ORTHANC = shutil.which("Orthanc") or (
    "/usr/sbin/Orthanc" if Path("/usr/sbin/Orthanc").exists() else None
)
PLUGIN_CANDIDATES = (
    Path("/usr/share/orthanc/plugins/libOrthancDicomWeb.so"),
    Path("/usr/lib/orthanc/libOrthancDicomWeb.so"),
)


def _plugin() -> Path | None:
    for path in PLUGIN_CANDIDATES:
        if path.exists():
            return path
    found = sorted(Path("/usr/lib/orthanc").glob("libOrthancDicomWeb.so*"))
    return found[0] if found else None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait(
    url: str,
    process: subprocess.Popen[bytes],
    log: Path,
    *,
    auth: object = None,
    timeout_s: float = 60,
) -> None:
    request = urllib.request.Request(url)
    if isinstance(auth, dict):
        user, password = next(iter(auth.items()))
        token = base64.b64encode(f"{user}:{password}".encode()).decode()
        request.add_header("Authorization", f"Basic {token}")
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"Orthanc exited with {process.returncode}:\n{log.read_text()}")
        try:
            with urllib.request.urlopen(request, timeout=2) as answer:
                if answer.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"Orthanc did not answer {url} in {timeout_s} s:\n{log.read_text()}")


def _start(folder: Path, extra: dict[str, object]) -> Iterator[str]:
    plugin = _plugin()
    if ORTHANC is None:
        pytest.skip("Orthanc is not installed (Debian package 'orthanc'; see scripts/test.sh)")
    if plugin is None:
        pytest.skip("the Orthanc DICOMweb plugin is not installed (Debian 'orthanc-dicomweb')")
    http_port, dicom_port = _free_port(), _free_port()
    config = {
        "Name": "NETLM-TEST",
        "StorageDirectory": str(folder / "storage"),
        "IndexDirectory": str(folder / "storage"),
        "HttpPort": http_port,
        "DicomPort": dicom_port,
        "DicomAet": "NETLMTEST",
        "RemoteAccessAllowed": False,
        "AuthenticationEnabled": False,
        "HttpServerEnabled": True,
        "DicomServerEnabled": True,
        "Plugins": [str(plugin)],
        "DicomWeb": {"Enable": True, "Root": "/dicom-web/", "EnableWado": False},
        "StableAge": 1,
        "HttpTimeout": 60,
        **extra,
    }
    (folder / "orthanc.json").write_text(json.dumps(config, indent=2))
    log = folder / "orthanc.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [ORTHANC, f"--logfile={folder / 'orthanc-internal.log'}", str(folder / "orthanc.json")],
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    base = f"http://127.0.0.1:{http_port}"
    try:
        _wait(f"{base}/system", process, log, auth=extra.get("RegisteredUsers"))
        yield base
    finally:
        if process.poll() is None:
            os.kill(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.kill(process.pid, signal.SIGKILL)
                process.wait(timeout=10)


@pytest.fixture(scope="session")
def orthanc(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The base URL of a running Orthanc (``http://127.0.0.1:PORT``); DICOMweb under /dicom-web."""
    yield from _start(tmp_path_factory.mktemp("orthanc"), {})


#: The user of :func:`orthanc_with_user`.
TEST_USER: Final = ("netlm", "test-password")


@pytest.fixture(scope="session")
def orthanc_with_user(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """An Orthanc that requires HTTP basic authentication as :data:`TEST_USER`."""
    yield from _start(
        tmp_path_factory.mktemp("orthanc-auth"),
        {"AuthenticationEnabled": True, "RegisteredUsers": dict([TEST_USER])},
    )


@dataclass(frozen=True)
class DimseOrthanc:
    """An Orthanc whose DICOM port answers netlm (AE :attr:`aet`, receiving on its move port)."""

    url: str
    port: int
    called_aet: str
    aet: str
    move_port: int


@pytest.fixture(scope="session")
def orthanc_dimse(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DimseOrthanc]:
    """An Orthanc with its DICOM port on a free port and netlm registered as a modality.

    netlm's AE title ``NETLM`` at 127.0.0.1 and a free port, so that Orthanc
    sends the instances of a C-MOVE there (``netlm pacs pull --dimse
    --move-port``).
    """
    dicom_port, move_port = _free_port(), _free_port()
    extra = {
        "DicomPort": dicom_port,
        "DicomModalities": {"netlm": ["NETLM", "127.0.0.1", move_port]},
    }
    for url in _start(tmp_path_factory.mktemp("orthanc-dimse"), extra):
        yield DimseOrthanc(url, dicom_port, "NETLMTEST", "NETLM", move_port)


def _pipe(client: ssl.SSLSocket, upstream: socket.socket) -> None:
    """Copy bytes both ways until either side closes (or 30 s of silence)."""
    with contextlib.suppress(OSError), client, upstream:
        while True:
            ready = (
                [client] if client.pending() else select.select([client, upstream], [], [], 30)[0]
            )
            if not ready:
                return
            for source in ready:
                data = source.recv(65536)
                if not data:
                    return
                (upstream if source is client else client).sendall(data)


@contextlib.contextmanager
def tls_proxy(target_port: int, certificate: Path, key: Path) -> Iterator[int]:
    """HTTPS on a free loopback port, forwarded byte for byte to ``target_port``; the port."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(str(certificate), str(key))
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    listener.settimeout(0.2)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                raw, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            try:
                raw.settimeout(10)
                client = context.wrap_socket(raw, server_side=True)  # the handshake
                upstream = socket.create_connection(("127.0.0.1", target_port), timeout=10)
            except OSError:  # the client refused the certificate, or upstream is gone
                raw.close()
                continue
            threading.Thread(target=_pipe, args=(client, upstream), daemon=True).start()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield int(listener.getsockname()[1])
    finally:
        stop.set()
        thread.join(timeout=5)
        listener.close()


@dataclass(frozen=True)
class TlsOrthanc:
    """Orthanc over HTTPS, its certificate signed by :attr:`ca` (:attr:`other_ca`: by none)."""

    url: str
    ca: Path
    other_ca: Path


@pytest.fixture(scope="session")
def orthanc_tls(orthanc: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TlsOrthanc]:
    """The Orthanc of :func:`orthanc` behind a TLS proxy (self-signed test CA, openssl)."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed")
    certificates = make_certificates(tmp_path_factory.mktemp("tls"))
    port = int(orthanc.rsplit(":", 1)[1])
    with tls_proxy(port, certificates["certificate"], certificates["key"]) as https_port:
        yield TlsOrthanc(
            f"https://127.0.0.1:{https_port}", certificates["ca"], certificates["other_ca"]
        )
