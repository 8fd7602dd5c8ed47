"""Connect-session cost: the token route against a direct ``StackOneClient`` call; and the
pooled client against the naive pattern (a fresh ``requests.post`` per call, so a new
connection each time), over plain HTTP and over HTTPS.

The stub StackOne keeps connections alive (HTTP/1.1, as StackOne's API does), so a pooled
client reuses its connection while a fresh post opens one per call. Over plain local HTTP
that saves only a TCP connect. StackOne is reached over TLS, so the HTTPS figure is the one
that carries over: the stub serves a self-signed certificate (ECDSA P-256, as most servers
use) made for this run with the ``openssl`` command, and both clients verify it against a
CA bundle of certifi's certificates plus that one, which is what a production client loads
(``requests`` verifies against certifi by default).
"""

from __future__ import annotations

import http.server
import json
import shutil
import ssl
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from statistics import median

import certifi
import requests

from flask_stackone import StackOneClient

from .bench_app import API_KEY, create_app

CALLS = 400
SESSION = {
    "id": 1, "organization_id": "1", "project_id": "p", "origin_owner_id": "org_1",
    "origin_owner_name": "Acme Ltd", "created_at": "2026-01-01T00:00:00Z",
    "token": "hub-token", "auth_link_url": "https://hub.stackone.com/link?token=hub-token",
}  # fmt: skip
OWNER = {"origin_owner_id": "org_1", "origin_owner_name": "Acme Ltd",
         "origin_username": "ada@acme.test", "expires_in": 1800}  # fmt: skip
ANSWER = json.dumps(SESSION).encode()


class StubStackOne(http.server.BaseHTTPRequestHandler):
    """``POST /connect_sessions`` answered 201, on a connection kept alive."""

    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body are two writes: no delayed ACK wait

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.send_response(201)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(ANSWER)))
        self.end_headers()
        self.wfile.write(ANSWER)

    def log_message(self, *args: object) -> None:
        pass


@contextmanager
def stub(tls: tuple[Path, Path] | None = None) -> Iterator[str]:
    """Serve the stub on 127.0.0.1 (over TLS with ``(certificate, key)``); yield its URL."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), StubStackOne)
    scheme = "http"
    if tls is not None:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(str(tls[0]), str(tls[1]))
        server.socket = context.wrap_socket(server.socket, server_side=True)
        scheme = "https"
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"{scheme}://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def self_signed(folder: Path) -> tuple[Path, Path, Path] | None:
    """``(certificate, key, CA bundle)`` for 127.0.0.1, or ``None`` without ``openssl``."""
    openssl = shutil.which("openssl")
    if openssl is None:
        return None
    cert, key, bundle = folder / "cert.pem", folder / "key.pem", folder / "bundle.pem"
    subprocess.run(
        [openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
         "-nodes", "-keyout", str(key), "-out", str(cert), "-days", "1",
         "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    bundle.write_bytes(Path(certifi.where()).read_bytes() + b"\n" + cert.read_bytes())
    return cert, key, bundle


def _timed(call: Callable[[], None], n: int = CALLS) -> list[float]:
    call()  # warm: connection opened, caches filled
    samples = []
    for _ in range(n):
        started = time.perf_counter()
        call()
        samples.append(time.perf_counter() - started)
    return samples


ROUNDS = 10


def _medians(calls: dict[str, Callable[[], None]], n: int) -> dict[str, float]:
    """Median milliseconds of each call, measured in interleaved rounds (so a burst of
    other work on the machine falls on every call alike)."""
    rounds: dict[str, list[float]] = {name: [] for name in calls}
    for _ in range(ROUNDS):
        for name, call in calls.items():
            rounds[name] += _timed(call, n // ROUNDS)
    return {name: median(samples) * 1000 for name, samples in rounds.items()}


def _pooled_and_fresh(url: str, verify: str | bool) -> dict[str, Callable[[], None]]:
    session = requests.Session()
    session.verify = verify
    session.trust_env = False  # REQUESTS_CA_BUNDLE would beat session.verify
    client = StackOneClient(API_KEY, url, session=session)

    def pooled() -> None:
        client.create_connect_session(**OWNER)

    def fresh() -> None:
        answer = requests.post(
            url + "/connect_sessions", json=OWNER, auth=(API_KEY, ""), timeout=10, verify=verify
        )
        answer.raise_for_status()

    return {"pooled": pooled, "fresh": fresh}


def plain_http() -> list[dict[str, str]]:
    with stub() as url:
        calls = _pooled_and_fresh(url, True)
        test_client = create_app(api_url=url).test_client()
        headers = {"X-StackOne-Request": "1"}

        def route() -> None:
            response = test_client.post("/stackone/connect-session", headers=headers)
            assert response.status_code == 200, response.get_data()

        ms = _medians({**calls, "route": route}, CALLS)
    name = "connect session"
    return [
        {"benchmark": name, "measure": "direct StackOneClient call (median)",
         "value": f"{ms['pooled']:.2f} ms"},
        {"benchmark": name, "measure": "token route, in process (median)",
         "value": f"{ms['route']:.2f} ms"},
        {"benchmark": name, "measure": "route overhead over the direct call",
         "value": f"{ms['route'] - ms['pooled']:.2f} ms", "target": "<= 1 ms"},
        {"benchmark": name, "measure": "fresh requests.post per call (median)",
         "value": f"{ms['fresh']:.2f} ms"},
        {"benchmark": name, "measure": "pooled client speed-up over fresh posts",
         "value": f"{ms['fresh'] / ms['pooled']:.2f}x",
         "note": "plain HTTP: only a TCP connect to save"},
    ]  # fmt: skip


def https() -> list[dict[str, str]]:
    name = "connect session over HTTPS"
    with tempfile.TemporaryDirectory(prefix="bench-tls-") as tmp:
        made = self_signed(Path(tmp))
        if made is None:
            return [{"benchmark": name, "measure": "not measured", "value": "-",
                     "note": "the openssl command is not installed"}]  # fmt: skip
        cert, key, bundle = made
        with stub((cert, key)) as url:
            calls = _pooled_and_fresh(url, str(bundle))
            calls["handshake"] = _pooled_and_fresh(url, str(cert))["fresh"]
            ms = _medians(calls, CALLS)
    return [
        {"benchmark": name, "measure": "pooled StackOneClient (median)",
         "value": f"{ms['pooled']:.2f} ms",
         "note": "self-signed ECDSA P-256; CA bundle: certifi's + the stub's"},
        {"benchmark": name, "measure": "fresh requests.post per call (median)",
         "value": f"{ms['fresh']:.2f} ms", "note": "a TLS handshake and a CA bundle load each"},
        {"benchmark": name, "measure": "pooled client speed-up over fresh posts",
         "value": f"{ms['fresh'] / ms['pooled']:.2f}x"},
        {"benchmark": name, "measure": "fresh posts trusting the stub's certificate alone",
         "value": f"{ms['handshake']:.2f} ms ({ms['handshake'] / ms['pooled']:.2f}x)",
         "note": "the handshake without loading certifi's bundle"},
    ]  # fmt: skip


def run() -> list[dict[str, str]]:
    return [*plain_http(), *https()]
