"""The mounted sandbox's cost: what the WSGI dispatch adds to a host app's own requests
(same app with the sandbox off and on, side by side), and a connect session created in
process through the transport against one over real HTTP to the standalone app."""

from __future__ import annotations

import tempfile
import time
from statistics import median

import requests
from flask import Flask

from flask_stackone import Owner, get_client, make_blueprint
from flask_stackone.sandbox import create_app, stop_deliveries
from tests.live_server import serve

CALLS = 2000
SESSION = {"origin_owner_id": "org_1", "origin_owner_name": "Acme Ltd"}


def host(folder: str, sandbox: bool) -> Flask:
    app = Flask("bench_host", instance_path=folder)
    app.config.update(SECRET_KEY="k", STACKONE_SANDBOX=sandbox, STACKONE_API_KEY="sk_bench")
    blueprint = make_blueprint()
    blueprint.owner_loader(lambda: Owner("org_1", "Acme Ltd"))
    app.register_blueprint(blueprint)

    @app.get("/")
    def index() -> str:
        return "ok"

    return app


def _timed(call, n: int = CALLS) -> list[float]:  # type: ignore[no-untyped-def]
    call()
    samples = []
    for _ in range(n):
        started = time.perf_counter()
        call()
        samples.append(time.perf_counter() - started)
    return samples


def run() -> list[dict[str, str]]:
    with tempfile.TemporaryDirectory() as folder:
        plain, mounted = host(folder + "/a", False), host(folder + "/b", True)
        plain_client, mounted_client = plain.test_client(), mounted.test_client()
        # Interleaved, so both see the same machine load.
        off, on = [], []
        for _ in range(5):
            off += _timed(lambda: plain_client.get("/"), CALLS // 5)
            on += _timed(lambda: mounted_client.get("/"), CALLS // 5)
        client = get_client(mounted)
        in_process = _timed(lambda: client.create_connect_session(**SESSION), 300)
        standalone = create_app({"SANDBOX_API_KEY": "sk_bench", "SANDBOX_DB": folder + "/c.db"})
        with serve(standalone) as url, requests.Session() as http:

            def over_http() -> None:
                http.post(f"{url}/connect_sessions", json=SESSION, auth=("sk_bench", ""))

            http_samples = _timed(over_http, 300)
        stop_deliveries(mounted)
        stop_deliveries(standalone)
    ratio = median(on) / median(off)
    return [
        {"benchmark": "sandbox mount", "measure": "host route, sandbox off (median)",
         "value": f"{median(off) * 1e6:.0f} µs"},
        {"benchmark": "sandbox mount", "measure": "host route, sandbox on (median)",
         "value": f"{median(on) * 1e6:.0f} µs"},
        {"benchmark": "sandbox mount", "measure": "host route on / off", "value": f"{ratio:.2f}",
         "target": "<= 1.10", "note": "the dispatch is one prefix check per request"},
        {"benchmark": "sandbox mount",
         "measure": "StackOneClient connect session, in process (median)",
         "value": f"{median(in_process) * 1e3:.2f} ms"},
        {"benchmark": "sandbox mount",
         "measure": "raw POST /connect_sessions to the standalone app over HTTP (median)",
         "value": f"{median(http_samples) * 1e3:.2f} ms"},
    ]  # fmt: skip


if __name__ == "__main__":
    for row in run():
        print(row)
