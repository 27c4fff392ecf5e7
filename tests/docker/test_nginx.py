"""docker/nginx/bem.conf, the reverse proxy of docs/deployment.md, in front of `bem web`:
TLS on the way in, the app's answers on the way out, uploads larger than nginx's default.

nginx itself is not a dependency of the project: the test runs where an nginx binary is
found (on the PATH, or named by BEM_TEST_NGINX) and is skipped, saying so, elsewhere.
"""

from __future__ import annotations

import http.client
import os
import re
import shutil
import socket
import ssl
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from dash.testing.wait import until

CONF = Path(__file__).resolve().parents[2] / "docker" / "nginx" / "bem.conf"
BEM = Path(sys.executable).parent / "bem"
NGINX = os.environ.get("BEM_TEST_NGINX") or shutil.which("nginx")
SERVER_NAME = "bem.lab.example.org"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not NGINX, reason="nginx is not installed (apt-get install nginx, or BEM_TEST_NGINX=PATH)"
    ),
]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _certificate(directory: Path) -> tuple[Path, Path]:
    """A self-signed certificate naming the configured server."""
    crt, key = directory / "bem.crt", directory / "bem.key"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
         "-subj", f"/CN={SERVER_NAME}", "-addext", f"subjectAltName=DNS:{SERVER_NAME}",
         "-keyout", str(key), "-out", str(crt)],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    return crt, key


class Proxy:
    def __init__(self, http_port: int, https_port: int, ca: Path) -> None:
        self.http_port, self.https_port, self.ca = http_port, https_port, ca

    def https(self) -> http.client.HTTPSConnection:
        context = ssl.create_default_context(cafile=str(self.ca))
        # The certificate names the site; the connection goes to this machine.
        connection = http.client.HTTPSConnection(
            "127.0.0.1", self.https_port, context=context, timeout=10
        )
        connection.sock = context.wrap_socket(
            socket.create_connection(("127.0.0.1", self.https_port), timeout=10),
            server_hostname=SERVER_NAME,
        )
        return connection

    def get(self, path: str) -> http.client.HTTPResponse:
        connection = self.https()
        connection.request("GET", path, headers={"Host": SERVER_NAME})
        return connection.getresponse()


@pytest.fixture
def proxy(tmp_path: Path, sqlite_url: str) -> Iterator[Proxy]:
    web_port, http_port, https_port = _free_port(), _free_port(), _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("BEM_")}
    env |= {"BEM_DATABASE_URL": sqlite_url, "BEM_DATABASE_INSTANCE_DIR": str(tmp_path)}
    env["BEM_AUTH_ENABLED"] = "false"  # the pages answer without a sign-in
    subprocess.run([str(BEM), "db", "upgrade"], env=env, check=True, capture_output=True)
    web = subprocess.Popen(
        [str(BEM), "web", "--port", str(web_port), "--workers", "1"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip

    crt, key = _certificate(tmp_path)
    site = CONF.read_text(encoding="utf-8")
    site = site.replace("listen 80;", f"listen 127.0.0.1:{http_port};")
    site = site.replace("listen 443 ssl;", f"listen 127.0.0.1:{https_port} ssl;")
    site = site.replace("127.0.0.1:8050", f"127.0.0.1:{web_port}")
    site = re.sub(r"ssl_certificate\s+\S+;", f"ssl_certificate {crt};", site)
    site = re.sub(r"ssl_certificate_key\s+\S+;", f"ssl_certificate_key {key};", site)
    (tmp_path / "bem.conf").write_text(site)
    temp = tmp_path / "nginx-temp"
    temp.mkdir()
    # What a distribution's nginx.conf gives around the included file, in this folder.
    (tmp_path / "nginx.conf").write_text(
        "daemon off;\nmaster_process off;\n"
        f"error_log {tmp_path / 'error.log'};\npid {tmp_path / 'nginx.pid'};\n"
        "events {}\n"
        "http {\n"
        f"  access_log off;\n"
        + "".join(
            f"  {kind}_temp_path {temp / kind};\n"
            for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
        )
        + f"  include {tmp_path / 'bem.conf'};\n}}\n"
    )
    nginx = [NGINX, "-p", str(tmp_path), "-e", str(tmp_path / "error.log")]
    nginx += ["-c", str(tmp_path / "nginx.conf")]
    checked = subprocess.run([*nginx, "-t"], capture_output=True, text=True, timeout=30)
    assert checked.returncode == 0, checked.stderr
    server = subprocess.Popen(nginx, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    proxy = Proxy(http_port, https_port, crt)
    try:
        until(lambda: _answers(proxy), 60)
        yield proxy
    finally:
        for process in (server, web):
            process.terminate()
            process.wait(timeout=30)


def _answers(proxy: Proxy) -> bool:
    try:
        return proxy.get("/health").status == 200
    except OSError:
        return False


def test_the_proxy_serves_the_app_over_tls(proxy: Proxy) -> None:
    response = proxy.get("/health")
    assert (response.status, response.read()) == (200, b"OK\n")
    page = proxy.get("/experiments")
    assert page.status == 200 and b"Battery Experiments Manager" in page.read()


def test_plain_http_is_sent_to_https(proxy: Proxy) -> None:
    request = urllib.request.Request(
        f"http://127.0.0.1:{proxy.http_port}/experiments", headers={"Host": SERVER_NAME}
    )

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):  # type: ignore[no-untyped-def]
            return None

    with pytest.raises(urllib.error.HTTPError) as answer:
        urllib.request.build_opener(NoRedirect).open(request, timeout=10)
    assert answer.value.code == 301
    assert answer.value.headers["Location"] == f"https://{SERVER_NAME}/experiments"


def test_a_body_larger_than_nginx_s_default_reaches_the_app(proxy: Proxy) -> None:
    # nginx refuses bodies over 1 MiB unless told otherwise; the app decides instead (here
    # a callback request that is not JSON: the app reads it and answers 400, not nginx 413).
    connection = proxy.https()
    connection.request(
        "POST", "/_dash-update-component", body=b"x" * 3_000_000,
        headers={"Host": SERVER_NAME, "Content-Type": "application/json"},
    )  # fmt: skip
    response = connection.getresponse()
    assert response.status == 400
    assert response.read().startswith(b"Bad Request")
