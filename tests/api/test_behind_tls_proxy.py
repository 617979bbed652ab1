"""netlm stood up behind a TLS reverse proxy exactly as README "Running the service" says (#12).

The commands (``netlm db upgrade``, ``netlm serve --create-admin … --secure-cookies
--allowed-host …``, ``netlm users create …``, ``netlm users set-role …``), the
Caddyfile and the nginx server block are read from the README, not copied
here; only the data folder, the ports and the passwords are substituted, and
the proxies get what the README leaves to the operator: a certificate (of a
test CA made with ``openssl``, :mod:`tls_ca`) and, for Caddy, no ACME and no
admin API, so that nothing reaches the network.  Debian's ``caddy`` and
``nginx`` then serve HTTPS on free loopback ports in front of one live
``netlm serve``; each test runs through both (skipped, naming the package,
where a binary is missing: ``scripts/test.sh`` installs them).

The client connects to 127.0.0.1 but asks for ``netlm.example.org`` (TLS SNI,
certificate check, ``Host``), the README's name, which is never resolved.  It
connects *from* other loopback addresses (127.0.0.11, …), while the proxy
connects to netlm from 127.0.0.1, so the address netlm records is the
client's only if the proxy passed it in ``X-Forwarded-For`` and netlm
believed it.
"""

from __future__ import annotations

import asyncio
import os
import re
import shlex
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any

import httpx
import pytest

from netlm.api.limits import drain
from tls_ca import make_certificates

README = Path(__file__).resolve().parents[2] / "README.md"
#: The server name of the README's examples; a test certificate is made for it.
HOST = "netlm.example.org"
ADMIN_PASSWORD = "harbour-lantern-passphrase"
USER_PASSWORD = "copper-kettle-meadow"
#: ``netlm serve --max-upload-bytes`` added to the README's command, so that netlm's own
#: upload limit can be reached through the proxy (the README's default is 2 GiB).
UPLOAD_CAP = 3 * 1024 * 1024
MIB = 1024 * 1024


# --------------------------------------------------------------------------- the README
def running_section() -> str:
    """README's "Running the service" section."""
    text = README.read_text(encoding="utf-8")
    start = text.index("\n## Running the service")
    end = text.index("\n## ", start + 1)
    return text[start:end]


def fenced(section: str, language: str) -> str:
    """The first fenced block of ``language`` in ``section`` (dedented)."""
    match = re.search(rf"^( *)```{language}\n(.*?)^\1```", section, re.MULTILINE | re.DOTALL)
    assert match is not None, f"no ```{language} block in README 'Running the service'"
    return textwrap.dedent(match.group(2))


def shell_commands(section: str) -> list[list[str]]:
    """The commands of the section's shell block, continuation lines joined, comments
    dropped; a line that lists alternatives (``disable|enable|…``) is a template, not
    a command, and is left out."""
    commands = []
    for line in fenced(section, "bash").replace("\\\n", " ").splitlines():
        words = shlex.split(line, comments=True)
        if words and not any("|" in word for word in words):
            commands.append(words)
    return commands


# --------------------------------------------------------------------------- processes
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def stop(process: subprocess.Popen[bytes]) -> None:
    """Stop ``process`` by its pid: SIGTERM, then SIGKILL after 20 s."""
    if process.poll() is None:
        os.kill(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.kill(process.pid, signal.SIGKILL)
            process.wait(timeout=10)


def wait_until(
    ready: Callable[[], bool], process: subprocess.Popen[bytes], log: Path, what: str
) -> None:
    """Poll ``ready()`` until true; fail naming ``what`` with its log if it exits or takes
    more than 60 s."""
    deadline = time.monotonic() + 60
    while not ready():
        if process.poll() is not None:
            raise RuntimeError(f"{what} exited with {process.returncode}:\n{log.read_text()}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what} did not start in 60 s:\n{log.read_text()}")
        time.sleep(0.1)


def answers(url: str, headers: dict[str, str]) -> bool:
    try:
        return httpx.get(url, headers=headers, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def netlm_command(words: list[str]) -> list[str]:
    """A README ``netlm …`` command as this interpreter runs it (the code under test)."""
    assert words[0] == "netlm", words
    return [sys.executable, "-m", "netlm.cli", *words[1:]]


@dataclass
class Netlm:
    """The live ``netlm serve`` stood up from the README, plain HTTP on a loopback port."""

    port: int
    data_dir: Path
    log: Path
    commands: list[list[str]]


@pytest.fixture(scope="module")
def netlm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Netlm]:
    """Run the README's shell block: its exports, ``netlm db upgrade``, ``netlm serve``
    (in the background, until the module is done) and the ``netlm users`` commands."""
    folder = tmp_path_factory.mktemp("netlm-tls")
    data_dir, log, port = folder / "data", folder / "serve.log", free_port()

    def substitute(word: str) -> str:  # the README's data folder and port: ours
        return str(port) if word == "8000" else word.replace("/srv/netlm", str(data_dir))

    environment = {k: v for k, v in os.environ.items() if not k.startswith("NETLM_")}
    environment["NETLM_USER_PASSWORD"] = USER_PASSWORD  # `netlm users create`: "from $…"
    commands = shell_commands(running_section())
    health = f"http://127.0.0.1:{port}/api/v1/health"
    server: subprocess.Popen[bytes] | None = None
    try:
        for words in commands:
            words = [substitute(w) for w in words]
            if words[0] == "export":
                name, value = words[1].split("=", 1)
                environment[name] = ADMIN_PASSWORD if value == "…" else value
                continue
            # never the README's own folder: the commands run here, on the test's registry
            assert environment.get("NETLM_DATA_DIR") == str(data_dir), words
            if words[:2] == ["netlm", "serve"]:
                assert server is None, "the README starts netlm serve twice"
                args = [*netlm_command(words), "--max-upload-bytes", str(UPLOAD_CAP)]
                with log.open("ab") as out:
                    server = subprocess.Popen(
                        args, stdout=out, stderr=subprocess.STDOUT, env=environment
                    )
                wait_until(lambda: answers(health, {"Host": HOST}), server, log, "netlm serve")
                continue
            done = subprocess.run(
                netlm_command(words), env=environment, capture_output=True, text=True, timeout=120
            )
            assert done.returncode == 0, f"{shlex.join(words)}:\n{done.stdout}{done.stderr}"
        assert server is not None, "the README's shell block does not start netlm serve"
        yield Netlm(port, data_dir, log, commands)
    finally:
        if server is not None:
            stop(server)


@dataclass
class Proxy:
    """A TLS reverse proxy in front of :func:`netlm`, and the loopback addresses its
    clients connect from (each proxy its own, so that throttle counts do not mix)."""

    name: str
    port: int
    ca: Path
    netlm: Netlm
    #: A client's own address (log-ins, audit), one that gets throttled, and another.
    client: str
    throttled: str
    other: str

    def browser(self, address: str | None = None) -> httpx.Client:
        """An HTTPS client for ``https://netlm.example.org:PORT`` trusting the test CA,
        connecting from ``address`` (default :attr:`client`)."""
        context = ssl.create_default_context(cafile=str(self.ca))
        transport = _Loopback(verify=context, local_address=address or self.client)
        return httpx.Client(base_url=f"https://{HOST}:{self.port}", transport=transport)


class _Loopback(httpx.HTTPTransport):
    """Connect to 127.0.0.1 whatever the URL's host; that host stays the TLS server name
    (SNI, certificate check) and the ``Host`` header, as if DNS pointed it here."""

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        routed = httpx.Request(
            request.method,
            request.url.copy_with(host="127.0.0.1"),
            headers=request.headers,
            stream=request.stream,
            extensions={**request.extensions, "sni_hostname": request.url.host},
        )
        return super().handle_request(routed)


def caddyfile(readme_block: str, backend: int, port: int, certificates: dict[str, Path]) -> str:
    """The README's Caddyfile on ``port`` with the test certificate, no ACME, no admin API."""
    site = replace_once(readme_block, "127.0.0.1:8000", f"127.0.0.1:{backend}")
    site = replace_once(
        site,
        f"{HOST} {{\n",
        f"{HOST}:{port} {{\n    tls {certificates['certificate']} {certificates['key']}\n",
    )
    return "{\n    admin off\n    auto_https off\n}\n\n" + site


def replace_once(text: str, old: str, new: str) -> str:
    """``text`` with its one ``old`` replaced by ``new`` (fails when it is not there once)."""
    assert text.count(old) == 1, f"the README's example has not one {old!r}:\n{text}"
    return text.replace(old, new)


def nginx_conf(server: str, backend: int, port: int, folder: Path, certs: dict[str, Path]) -> str:
    """The README's nginx server block on ``port`` with the test certificate, inside a
    minimal nginx.conf (the ``http`` context of Debian's /etc/nginx/nginx.conf)."""
    for old, new in (
        ("listen 443 ssl;", f"listen 127.0.0.1:{port} ssl;"),
        ("/etc/ssl/netlm.example.org.crt", str(certs["certificate"])),
        ("/etc/ssl/netlm.example.org.key", str(certs["key"])),
        ("127.0.0.1:8000", f"127.0.0.1:{backend}"),
        # README: as netlm serve --max-upload-bytes (2g: its default)
        ("client_max_body_size 2g;", f"client_max_body_size {UPLOAD_CAP};"),
    ):
        server = replace_once(server, old, new)
    temp = "\n".join(
        f"    {kind}_temp_path {folder / kind};"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    user = "user root;\n" if os.geteuid() == 0 else ""  # the workers read the temporary files
    return f"""{user}daemon off;
worker_processes 1;
pid {folder / "nginx.pid"};
error_log stderr;
events {{}}
http {{
    access_log off;
{temp}
{textwrap.indent(server, "    ")}
}}
"""


def _binary(name: str, debian: str) -> str:
    found = shutil.which(name) or next(
        (str(p) for p in (Path("/usr/sbin") / name, Path("/usr/bin") / name) if p.exists()), None
    )
    if found is None:
        pytest.skip(f"{name} is not installed (Debian package '{debian}'; see scripts/test.sh)")
    return found


@pytest.fixture(scope="module")
def certificates(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed")
    return make_certificates(tmp_path_factory.mktemp("ca"), (f"DNS:{HOST}", "IP:127.0.0.1"))


@pytest.fixture(scope="module", params=["caddy", "nginx"])
def proxy(
    request: pytest.FixtureRequest,
    netlm: Netlm,
    certificates: dict[str, Path],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Proxy]:
    """Caddy (the README's Caddyfile), then nginx (the README's server block), serving
    HTTPS on a free loopback port in front of :func:`netlm`."""
    name: str = request.param
    folder = tmp_path_factory.mktemp(name)
    port, log = free_port(), folder / f"{name}.log"
    section = running_section()
    environment = os.environ | {
        "HOME": str(folder),  # Caddy keeps its state under $HOME / $XDG_*: here, not in ~
        "XDG_DATA_HOME": str(folder / "data"),
        "XDG_CONFIG_HOME": str(folder / "config"),
    }
    if name == "caddy":
        binary = _binary("caddy", "caddy")
        config = folder / "Caddyfile"
        config.write_text(caddyfile(fenced(section, "caddyfile"), netlm.port, port, certificates))
        args = [binary, "run", "--config", str(config), "--adapter", "caddyfile"]
    else:
        binary = _binary("nginx", "nginx")
        config = folder / "nginx.conf"
        config.write_text(
            nginx_conf(fenced(section, "nginx"), netlm.port, port, folder, certificates)
        )
        args = [binary, "-p", str(folder), "-c", str(config), "-e", "stderr"]
    with log.open("ab") as out:
        process = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, env=environment)
    octet = {"caddy": 10, "nginx": 20}[name]
    addresses = [f"127.0.0.{octet + i}" for i in (1, 2, 3)]
    live = Proxy(name, port, certificates["ca"], netlm, *addresses)
    try:
        with live.browser() as client:
            wait_until(
                lambda: _answers(client, "/api/v1/health"), process, log, f"{name} ({config})"
            )
        yield live
    finally:
        stop(process)


def _answers(client: httpx.Client, path: str) -> bool:
    try:
        return client.get(path, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


# --------------------------------------------------------------------------- the tests
def login_form(client: httpx.Client, username: str, password: str) -> httpx.Response:
    """Log in through the form, with the pre-session token the form hands out."""
    match = re.search(r'name="login_csrf" value="([^"]+)"', client.get("/login").text)
    assert match is not None
    fields = {"username": username, "password": password, "login_csrf": match.group(1)}
    return client.post("/login", data=fields)


def token(client: httpx.Client, username: str, password: str, **headers: str) -> httpx.Response:
    return client.post(
        "/api/v1/auth/token", json={"username": username, "password": password}, headers=headers
    )


def bearer(client: httpx.Client, username: str, password: str) -> dict[str, str]:
    r = token(client, username, password)
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


def cookie(response: httpx.Response, name: str) -> dict[str, str | bool]:
    """The attributes of cookie ``name`` as the answer sets it (lower-case keys)."""
    for header in response.headers.get_list("set-cookie"):
        parsed: SimpleCookie = SimpleCookie()
        parsed.load(header)
        if name in parsed:
            morsel = parsed[name]
            return {k: morsel[k] for k in ("secure", "httponly", "samesite", "path")}
    raise AssertionError(f"no {name} cookie set: {response.headers.get_list('set-cookie')}")


def audit(client: httpx.Client, admin: dict[str, str]) -> list[dict[str, Any]]:
    r = client.get("/api/v1/audit", params={"record_type": "user"}, headers=admin)
    assert r.status_code == 200, r.text
    entries: list[dict[str, Any]] = r.json()
    return entries


def test_the_readme_commands_stand_netlm_up(netlm: Netlm) -> None:
    """Every command of the README's block ran (exit 0, in the fixture), on one data folder."""
    assert [w[:2] for w in netlm.commands if w[0] == "netlm"] == [
        ["netlm", "db"],
        ["netlm", "serve"],
        ["netlm", "users"],
        ["netlm", "users"],
    ]
    assert (netlm.data_dir / "netlm.db").is_file()
    assert (netlm.data_dir / "secret-key").stat().st_mode & 0o777 == 0o600
    assert netlm.data_dir.stat().st_mode & 0o777 == 0o700


def test_the_admin_logs_in_over_https_with_a_secure_session(proxy: Proxy) -> None:
    with proxy.browser() as client:
        page = client.get("/login")
        assert page.status_code == 200
        assert page.headers["strict-transport-security"].startswith("max-age=31536000")
        assert cookie(page, "netlm_login") == {
            "secure": True,
            "httponly": True,
            "samesite": "strict",
            "path": "/login",
        }
        r = login_form(client, "admin", ADMIN_PASSWORD)
        assert r.status_code == 303, r.text
        assert not r.headers["location"].startswith("http:")
        assert cookie(r, "netlm_session") == {
            "secure": True,
            "httponly": True,
            "samesite": "lax",
            "path": "/",
        }
        assert r.headers["strict-transport-security"].startswith("max-age=31536000")
        me = client.get("/api/v1/auth/me")  # the Secure cookie comes back over https
        assert me.status_code == 200 and me.json()["username"] == "admin"
        assert client.get("/patients").status_code == 200
    # The README's `netlm users create` and `set-role`, on the same registry:
    with proxy.browser() as client:
        smith = bearer(client, "dr.smith", USER_PASSWORD)
        assert client.get("/api/v1/auth/me", headers=smith).json()["role"] == "admin"


def test_a_host_not_allowed_is_refused(proxy: Proxy) -> None:
    backend = f"http://127.0.0.1:{proxy.netlm.port}/login"
    assert httpx.get(backend, headers={"Host": HOST}).status_code == 200
    direct = httpx.get(backend, headers={"Host": "evil.example"})
    assert direct.status_code == 400 and direct.text == "Invalid host header"
    with proxy.browser() as client:
        r = client.get("/login", headers={"Host": "evil.example"})
    if proxy.name == "nginx":  # its only server takes every name and forwards it
        assert r.status_code == 400 and r.text == "Invalid host header"
        assert r.headers["strict-transport-security"].startswith("max-age=")
    else:  # Caddy forwards only the site's name: netlm never sees this one
        assert "content-security-policy" not in r.headers and r.content == b""


def test_the_audit_log_records_the_clients_address(proxy: Proxy) -> None:
    """The address audited and logged is the client's (from X-Forwarded-For), neither the
    proxy's (127.0.0.1) nor one the client claims in its own X-Forwarded-For."""
    spoofed = "203.0.113.7"
    with proxy.browser() as client:
        assert login_form(client, "admin", ADMIN_PASSWORD).status_code == 303
    with proxy.browser() as client:
        admin = bearer(client, "admin", ADMIN_PASSWORD)
        r = token(client, "admin", ADMIN_PASSWORD, **{"X-Forwarded-For": spoofed})
        assert r.status_code == 200
        failed = token(
            client, f"nobody.{proxy.name}", "wrong password", **{"X-Forwarded-For": spoofed}
        )
        assert failed.status_code == 401
        entries = audit(client, admin)
    logins = [e["details"] for e in entries if e["actor"] == "admin" and e["action"] == "login"]
    assert {"via": "session", "address": proxy.client} in logins
    assert logins.count({"via": "token", "address": proxy.client}) >= 2
    refused = [
        e["details"]
        for e in entries
        if e["action"] == "login_failed" and e["details"]["username"] == f"nobody.{proxy.name}"
    ]
    assert refused == [
        {"username": f"nobody.{proxy.name}", "address": proxy.client, "via": "token"}
    ]
    addresses = {e["details"]["address"] for e in entries if "address" in e["details"]}
    assert "127.0.0.1" not in addresses and spoofed not in addresses
    logged = proxy.netlm.log.read_text()
    assert f"failed log-in: user='nobody.{proxy.name}' address={proxy.client} via=token" in logged


def test_the_login_throttle_counts_each_client_address(proxy: Proxy) -> None:
    """20 failed log-ins from one address (README: "20 from one address") hold that
    address back, not the others behind the same proxy."""
    with proxy.browser(proxy.throttled) as client:
        for i in range(20):
            assert token(client, f"ghost.{proxy.name}.{i}", "wrong password").status_code == 401
        held = token(client, "admin", ADMIN_PASSWORD)
        assert held.status_code == 429 and int(held.headers["Retry-After"]) >= 1
        # Claiming another address does not help: the proxy replaces the header.
        claimed = token(client, "admin", ADMIN_PASSWORD, **{"X-Forwarded-For": proxy.other})
        assert claimed.status_code == 429
        page = login_form(client, "admin", ADMIN_PASSWORD)
        assert page.status_code == 429 and "Retry-After" in page.headers
    with proxy.browser(proxy.other) as client:
        assert token(client, "admin", ADMIN_PASSWORD).status_code == 200


def test_an_upload_above_1_mib_passes_the_proxy_up_to_netlms_limit(proxy: Proxy) -> None:
    with proxy.browser() as client:
        admin = bearer(client, "admin", ADMIN_PASSWORD)
        r = client.post(
            "/api/v1/patients", json={"external_id": f"TLS-{proxy.name}"}, headers=admin
        )
        assert r.status_code == 201, r.text
        url = f"/api/v1/patients/{r.json()['id']}/images"
        body = os.urandom(2 * MIB)  # over nginx's default client_max_body_size (1 MiB)
        r = client.post(
            url, data={"kind": "other"}, files={"file": ("notes.bin", body)}, headers=admin
        )
        assert r.status_code == 201, r.text
        over = client.post(
            url,
            data={"kind": "other"},
            files={"file": ("big.bin", b"\0" * (UPLOAD_CAP + 1))},
            headers=admin,
        )
        assert over.status_code == 413, over.text
        if proxy.name == "caddy":  # no limit of its own: netlm's answer
            assert over.json() == {"detail": f"request body larger than {UPLOAD_CAP} bytes"}
        # nginx refuses it itself (client_max_body_size is netlm's limit), with its own page
        stored = client.get(url, headers=admin).json()
    assert [Path(i["path"]).name for i in stored] == ["notes.bin"]
    assert Path(stored[0]["path"]).read_bytes() == body  # all of it, through the proxy
    assert not list(proxy.netlm.data_dir.rglob("big.bin"))


def test_netlms_413_reaches_the_client_not_a_502(proxy: Proxy) -> None:
    """A JSON body over netlm's 1 MiB (README "Limits") is answered 413 by netlm, every time.

    netlm refuses it from its Content-Length; had it closed the connection with the
    body unread, the reset would make nginx, still sending it, answer 502 now and then
    (1 in 10 before netlm drained such bodies); 10 tries.
    """
    body = b'{"external_id": "' + b"x" * (2 * MIB) + b'"}'
    with proxy.browser() as client:
        admin = bearer(client, "admin", ADMIN_PASSWORD)
        headers = {**admin, "Content-Type": "application/json"}
        answers = [
            client.post("/api/v1/patients", content=body, headers=headers) for _ in range(10)
        ]
    assert [r.status_code for r in answers] == [413] * 10, [r.text[:80] for r in answers]
    assert all(r.json() == {"detail": "request body larger than 1048576 bytes"} for r in answers)


def test_drain_reads_the_rest_of_a_body_within_its_bound_and_no_further() -> None:
    """:func:`netlm.api.limits.drain`: to the body's end, or until past the bound."""

    def body(chunks: int) -> tuple[list[int], Callable[[], Any]]:
        read = [0]

        async def receive() -> dict[str, Any]:
            read[0] += 1
            return {"type": "http.request", "body": b"x" * 100, "more_body": read[0] < chunks}

        return read, receive

    read, receive = body(10)
    asyncio.run(drain(receive, 100, 10_000))
    assert read == [10]  # all of it: it ended (more_body false)
    read, receive = body(10)
    asyncio.run(drain(receive, 100, 500))
    assert read == [5]  # 100 + 5 x 100 = 600 > 500: stop, the rest stays unread
    read, receive = body(10)
    asyncio.run(drain(receive, 600, 500))
    assert read == [0]  # already past the bound: nothing read
