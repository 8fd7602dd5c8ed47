"""Connect-session cost: the token route against a direct ``StackOneClient`` call, both
talking over keep-alive HTTP to a local stub StackOne; and the pooled client against the
naive pattern (a fresh ``requests.post`` per call, so a new connection each time)."""

from __future__ import annotations

import time
from statistics import median

import requests
from flask import Flask, jsonify

from flask_stackone import StackOneClient
from tests.live_server import serve

from .bench_app import API_KEY, create_app

CALLS = 400
SESSION = {
    "id": 1, "organization_id": "1", "project_id": "p", "origin_owner_id": "org_1",
    "origin_owner_name": "Acme Ltd", "created_at": "2026-01-01T00:00:00Z",
    "token": "hub-token", "auth_link_url": "https://hub.stackone.com/link?token=hub-token",
}  # fmt: skip
OWNER = {"origin_owner_id": "org_1", "origin_owner_name": "Acme Ltd",
         "origin_username": "ada@acme.test", "expires_in": 1800}  # fmt: skip


def stub() -> Flask:
    app = Flask("stub_stackone")

    @app.post("/connect_sessions")
    def connect_sessions():  # type: ignore[no-untyped-def]
        return jsonify(SESSION), 201

    return app


def _timed(call, n: int = CALLS) -> list[float]:  # type: ignore[no-untyped-def]
    call()  # warm: connection opened, caches filled
    samples = []
    for _ in range(n):
        started = time.perf_counter()
        call()
        samples.append(time.perf_counter() - started)
    return samples


def run() -> list[dict[str, str]]:
    with serve(stub()) as url:
        client = StackOneClient(API_KEY, url)
        app = create_app(api_url=url)
        test_client = app.test_client()
        headers = {"X-StackOne-Request": "1"}

        def direct() -> None:
            client.create_connect_session(**OWNER)

        def route() -> None:
            response = test_client.post("/stackone/connect-session", headers=headers)
            assert response.status_code == 200, response.get_data()

        def naive() -> None:
            answer = requests.post(url + "/connect_sessions", json=OWNER, auth=(API_KEY, ""),
                                   timeout=10)  # fmt: skip
            answer.raise_for_status()

        rounds = {"direct": [], "route": [], "naive": []}
        for _ in range(3):  # interleaved rounds
            for name, call in (("direct", direct), ("route", route), ("naive", naive)):
                rounds[name] += _timed(call, CALLS // 3)
    ms = {name: median(samples) * 1000 for name, samples in rounds.items()}
    overhead = ms["route"] - ms["direct"]
    return [
        {"benchmark": "connect session", "measure": "direct StackOneClient call (median)",
         "value": f"{ms['direct']:.2f} ms"},
        {"benchmark": "connect session", "measure": "token route, in process (median)",
         "value": f"{ms['route']:.2f} ms"},
        {"benchmark": "connect session", "measure": "route overhead over the direct call",
         "value": f"{overhead:.2f} ms", "target": "<= 1 ms"},
        {"benchmark": "connect session", "measure": "fresh requests.post per call (median)",
         "value": f"{ms['naive']:.2f} ms"},
        {"benchmark": "connect session", "measure": "pooled client speed-up over fresh posts",
         "value": f"{ms['naive'] / ms['direct']:.2f}x"},
    ]  # fmt: skip
