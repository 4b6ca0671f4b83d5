"""requirements.txt installs in the images' toolkit (containers/toolkit, run on the host): a failure
reports pip's own error, including the TLS verification failure a corporate or sandbox proxy causes,
and PIP_INDEX_URL / PIP_CERT in the job's environment reach pip (docs/container-contract.md 2.5).

The package index here is a local HTTPS server with a self-signed certificate (openssl makes it),
so nothing leaves the machine."""

from __future__ import annotations

import http.server
import os
import shutil
import ssl
import subprocess
import sys
import threading
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "containers" / "toolkit" / "src"))

from smlocal_toolkit import code
from smlocal_toolkit.errors import ClientError

pytestmark = pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command")


class _Index(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # a PEP 503 page with no files: pip finds no version
        body = b"<!DOCTYPE html><html><body></body></html>"
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def tls_index(tmp_path):
    cert, key = tmp_path / "proxy-ca.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True, timeout=60)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Index)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"https://127.0.0.1:{server.server_address[1]}/simple", cert
    server.shutdown()


@pytest.fixture
def pip_env(monkeypatch, tmp_path):
    """pip as in a job container: only what the job's environment sets (no host pip configuration)."""
    for name in list(os.environ):
        if name.startswith("PIP_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("PIP_CONFIG_FILE", os.devnull)
    monkeypatch.setenv("PIP_RETRIES", "0")
    monkeypatch.setenv("PIP_DEFAULT_TIMEOUT", "10")
    monkeypatch.setenv("PIP_NO_CACHE_DIR", "1")
    monkeypatch.setenv("PIP_DISABLE_PIP_VERSION_CHECK", "1")
    (tmp_path / "code").mkdir()
    (tmp_path / "code" / "requirements.txt").write_text("smlocal-tls-probe==1.0\n")
    return tmp_path / "code"


def test_a_proxy_certificate_pip_does_not_trust_is_named(tls_index, pip_env, monkeypatch):
    url, _ = tls_index
    monkeypatch.setenv("PIP_INDEX_URL", url)
    with pytest.raises(ClientError) as failed:
        code.install_requirements(pip_env)
    message = str(failed.value)
    assert message.startswith(f"InstallRequirementsError: pip could not install {pip_env}/requirements.txt (exit 1): "
                              "ERROR: ")
    assert "CERTIFICATE_VERIFY_FAILED" in message   # the cause, not a guess about routes
    assert "no route" not in message
    assert "PIP_INDEX_URL, PIP_TRUSTED_HOST or PIP_CERT" in message


def test_pip_cert_from_the_job_environment_trusts_the_proxy(tls_index, pip_env, monkeypatch):
    """With the proxy's CA (here shipped as a file of the source_dir, /opt/ml/code/proxy-ca.pem in the
    container) named by PIP_CERT, pip reaches the index: what remains is pip's own answer that the
    index has no such package."""
    url, cert = tls_index
    shutil.copy(cert, pip_env / "proxy-ca.pem")
    monkeypatch.setenv("PIP_INDEX_URL", url)
    # as docs/container-contract.md 2.5 says: PIP_CERT for the images' pip (Debian's 23.0.1), SSL_CERT_FILE
    # for pip >= 24.2 (this host's), which verifies through the system's trust store instead
    monkeypatch.setenv("PIP_CERT", str(pip_env / "proxy-ca.pem"))
    monkeypatch.setenv("SSL_CERT_FILE", str(pip_env / "proxy-ca.pem"))
    with pytest.raises(ClientError) as failed:
        code.install_requirements(pip_env)
    message = str(failed.value)
    assert "ERROR: No matching distribution found for smlocal-tls-probe==1.0" in message
    assert "CERTIFICATE_VERIFY_FAILED" not in message and "(after:" not in message


def test_pip_error_keeps_the_last_error_line_and_its_network_cause():
    stderr = ("WARNING: Retrying (Retry(total=0, connect=None, read=None, redirect=None, status=None)) after "
              "connection broken by 'ProxyError('Cannot connect to proxy.', OSError('Tunnel connection failed: "
              "403 Forbidden'))': /simple/foo/\n"
              "ERROR: Could not find a version that satisfies the requirement foo (from versions: none)\n"
              "ERROR: No matching distribution found for foo\n")
    assert code.pip_error("", stderr) == (
        "ERROR: No matching distribution found for foo (after: ProxyError('Cannot connect to proxy.', "
        "OSError('Tunnel connection failed: 403 Forbidden')))")
    assert code.pip_error("", "ERROR: Invalid requirement: '!!'\n") == "ERROR: Invalid requirement: '!!'"
