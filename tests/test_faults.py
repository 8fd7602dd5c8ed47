"""Faults: failing receivers, a crashed app, and a StackOne that misbehaves in every way
it can over real HTTP. Nothing is lost, nothing answers 500, nothing hangs."""

from __future__ import annotations

import hashlib
import socket
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from types import SimpleNamespace
from typing import TypeVar

import pytest
import requests
from flask import Flask, Response, jsonify, request

import flask_stackone.core.client as client_module
from flask_stackone.sandbox import delivery
from flask_stackone.sandbox.connectors import BY_KEY
from flask_stackone.sandbox.state import get_sandbox, wait_for_deliveries
from flask_stackone.testing import make_event, sign

from .conftest import API_KEY, WEBHOOK_SECRET, build_app
from .gunicorn_server import Gunicorn, free_port, gunicorn
from .hostapp import create_app, runs_db
from .live_server import refused_port, serve

SANDBOX_API = "/stackone-sandbox"
T = TypeVar("T")
HEADERS = {"X-StackOne-Request": "1"}


def link_sandbox_account(base: str, owner: str) -> str:
    """Link a BambooHR account in the sandbox over HTTP, as the Hub does; its id."""
    session = requests.post(
        base + SANDBOX_API + "/connect_sessions",
        json={"origin_owner_id": owner, "origin_owner_name": owner.title()},
        auth=(API_KEY, ""),
        timeout=10,
    )
    assert session.status_code == 201, session.text
    fields = BY_KEY["bamboohr"].fields
    credentials = {f.key: f.options[0][0] if f.options else f"value-{f.key}" for f in fields}
    linked = requests.post(
        base + SANDBOX_API + "/hub/accounts",
        json={"integration_id": BY_KEY["bamboohr"].integration_id, "credentials": credentials},
        headers={"x-hub-session-token": session.json()["token"]},
        timeout=10,
    )
    assert linked.status_code == 201, linked.text
    return linked.json()["id"]


def runs(instance: str) -> list[tuple[str, str, int]]:
    db = runs_db(instance)
    try:
        return db.execute("SELECT delivery_key, account_id, failed FROM runs").fetchall()
    finally:
        db.close()


# -- the sandbox redelivers ------------------------------------------------------------------


def test_a_receiver_failing_twice_gets_redelivered_by_the_sandbox_and_stores_once(tmp_path):
    app = create_app(
        str(tmp_path), fail_first=2, STACKONE_SANDBOX=True, STACKONE_SANDBOX_DELIVERY_BACKOFF=0.05
    )
    with serve(app) as base:
        account_id = link_sandbox_account(base, "org_flaky")
        assert wait_for_deliveries(app, timeout=20)
        history = get_sandbox(app).store.deliveries()
        get_sandbox(app).deliverer.stop()
    assert [r[1:] for r in runs(str(tmp_path))] == [
        (account_id, 1),
        (account_id, 1),
        (account_id, 0),
    ]
    (created,) = [d for d in history if d["event"] == "account.created"]
    assert created["state"] == "delivered"
    assert [a["status"] for a in created["attempts_log"]] == [500, 500, 200]


@pytest.mark.slow
def test_the_app_killed_mid_burst_delivers_every_event_after_restart(tmp_path):
    burst = 30
    port = free_port()
    env = {
        "HOSTAPP_INSTANCE": str(tmp_path),
        "HOSTAPP_RECEIVER_DELAY": "0.1",
        "STACKONE_SANDBOX": "true",
        "STACKONE_SANDBOX_WEBHOOK_URL": f"http://127.0.0.1:{port}/stackone/webhooks",
        "STACKONE_SANDBOX_DELIVERY_BACKOFF": "0.2",
        "STACKONE_SANDBOX_DELIVERY_ATTEMPTS": "30",
        "STACKONE_DELIVERY_WAIT": "1",
    }
    server = Gunicorn("tests.hostapp:create_app()", workers=2, env=env, port=port, args=())
    server.start()
    try:
        linked = [link_sandbox_account(server.url, f"org_{i}") for i in range(burst)]
        deadline = time.monotonic() + 20
        while len(runs(str(tmp_path))) < 3 and time.monotonic() < deadline:
            time.sleep(0.02)
        server.kill()
        delivered_before = {account for _, account, _ in runs(str(tmp_path))}
        assert 3 <= len(delivered_before) < burst, "the kill must land mid-burst"

        server.start()
        requests.get(server.url + "/", timeout=5)  # any served request resumes deliveries
        # A delivery in flight at the kill stays leased (hidden) for delivery.LEASE seconds.
        deadline = time.monotonic() + delivery.LEASE + 60
        while time.monotonic() < deadline:
            done = {account for _, account, failed in runs(str(tmp_path)) if not failed}
            if done >= set(linked):
                break
            time.sleep(0.2)
    finally:
        server.stop()
    ran = [account for _, account, _ in runs(str(tmp_path))]
    assert set(ran) == set(linked), "every event was delivered: none lost"
    twice = {a for a in ran if ran.count(a) > 1}
    assert len(twice) <= 2, f"only an event in flight at the kill may run twice: {twice}"


#: The claim's lease in the next test: long enough that the redelivery right after the
#: worker's death surely finds the claim, short enough to wait for.
LEASE = 30


@pytest.mark.slow
def test_a_receiver_outliving_gunicorns_timeout_holds_its_claim_until_the_lease_lapses(tmp_path):
    """gunicorn kills a sync worker whose request outlives ``--timeout``: the receiver never
    finishes, so its claim is neither released nor marked done. Redeliveries are answered
    409 while the claim holds, and the first one after ``STACKONE_DELIVERY_LEASE`` runs."""
    env = {
        "HOSTAPP_INSTANCE": str(tmp_path),
        "HOSTAPP_STALL_FIRST": "120",  # the first run outlives the worker's timeout
        "STACKONE_DELIVERY_LEASE": str(LEASE),
        "STACKONE_DELIVERY_WAIT": "0",
    }
    body = make_event("account.created", account_id="acc_slow_receiver")
    headers = {"X-StackOne-Signature": sign(body, WEBHOOK_SECRET)}

    def deliver() -> requests.Response:
        return requests.post(
            server.url + "/stackone/webhooks", data=body, headers=headers, timeout=60
        )

    with gunicorn(
        "tests.hostapp:create_app()", workers=2, env=env, args=("--timeout", "2")
    ) as server:
        claimed_by = time.monotonic()
        first = deliver()
        assert (
            first.status_code == 500 and "json" not in first.headers["Content-Type"]
        )  # gunicorn's
        assert deliver().status_code == 409  # the dead worker's claim holds
        statuses = []
        deadline = claimed_by + LEASE + 60
        while time.monotonic() < deadline:
            statuses.append(deliver().status_code)
            if statuses[-1] == 200:
                break
            time.sleep(1)
        assert statuses[-1] == 200, statuses
        assert time.monotonic() - claimed_by >= LEASE  # not before the lease lapsed
        assert set(statuses[:-1]) <= {409}
    key = hashlib.sha256(body).hexdigest()
    assert [(k, failed) for k, _, failed in runs(str(tmp_path))] == [
        (key, 0)
    ]  # ran once, to the end


# -- StackOne misbehaving, over real HTTP ------------------------------------------------------

ACCOUNT = {"id": "acc_1", "provider": "bamboohr", "status": "active", "origin_owner_id": "org_1"}
#: The client's timeout against the StackOne that never answers ("slow").
TIMEOUT = 0.3
#: The client's timeout against every other mode: they answer at once, and this is long
#: enough that a busy machine never turns their answer into a timeout.
ANSWER_TIMEOUT = 10.0
RETRY_WAIT = 0.5
MAX_RETRIES = 2
#: Generous bound after which a call counts as hung (a hang detector, not a timing check).
HANG = 30.0
#: (mode, method, path) -> requests the stubs received.
HITS: Counter[tuple[str, str, str]] = Counter()
#: Set when the tests are done: the "slow" StackOne answers no request before that.
RELEASE_SLOW = threading.Event()


STUB_MODES = ("429", "500", "502", "slow", "html", "empty", "wrong shape")


def stub_stackone(mode: str) -> Flask:
    stub = Flask("stub_stackone")

    @stub.route("/<path:path>", methods=["GET", "POST", "DELETE", "PATCH"])
    def answer(path: str) -> Response:
        HITS[mode, request.method, path] += 1
        if mode == "429":
            response = jsonify(statusCode=429, message="Too many requests")
            response.status_code, response.headers["Retry-After"] = 429, "30"
            return response
        if mode == "500":
            response = jsonify(statusCode=500, message="Internal error")
            response.status_code = 500
            return response
        if mode == "502":
            return Response("<html><h1>502 Bad Gateway</h1></html>", 502, mimetype="text/html")
        if mode == "slow":  # answers after the client gave up, however fast the machine
            RELEASE_SLOW.wait(HANG)
            return jsonify(ACCOUNT)
        if mode == "html":
            return Response("<html>maintenance</html>", 200, mimetype="text/html")
        if mode == "empty":
            return Response("", 200, mimetype="application/json")
        if mode == "wrong shape":
            return jsonify(["not", "an", "object"])
        raise AssertionError(mode)

    return stub


@contextmanager
def truncating_stackone() -> Iterator[str]:
    """Answers every request with a body that breaks off before its Content-Length."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    listener.settimeout(0.2)
    stop = threading.Event()

    def run() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            with conn:
                conn.settimeout(2)
                data = b""
                while b"\r\n\r\n" not in data and (chunk := conn.recv(65536)):
                    data += chunk
                conn.sendall(
                    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                    b'Content-Length: 400\r\nConnection: close\r\n\r\n{"id": "acc_1", "tok'
                )

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        stop.set()
        thread.join(5)
        listener.close()


@pytest.fixture(scope="module")
def stackone() -> Iterator[dict[str, str]]:
    """One misbehaving StackOne per mode, on real 127.0.0.1 ports: mode -> base URL."""
    RELEASE_SLOW.clear()
    with ExitStack() as stack:
        urls = {mode: stack.enter_context(serve(stub_stackone(mode))) for mode in STUB_MODES}
        stack.callback(RELEASE_SLOW.set)  # first at the end: the slow stub's threads finish
        urls["truncated"] = stack.enter_context(truncating_stackone())
        urls["refused"] = f"http://127.0.0.1:{stack.enter_context(refused_port())}"
        yield urls


#: mode -> (status, error code) the browser-facing routes answer.
EXPECTED = {
    "429": (503, "stackone_rate_limited"),
    "500": (502, "stackone_unavailable"),
    "502": (502, "stackone_unavailable"),
    "slow": (504, "stackone_timeout"),
    "refused": (502, "stackone_unavailable"),
    "truncated": (502, "stackone_unavailable"),
    "html": (502, "stackone_unavailable"),
    "empty": (502, "stackone_unavailable"),
    "wrong shape": (502, "stackone_unavailable"),
}


def app_against(stackone: dict[str, str], mode: str) -> Flask:
    return build_app(
        STACKONE_API_URL=stackone[mode],
        STACKONE_TIMEOUT=TIMEOUT if mode == "slow" else ANSWER_TIMEOUT,
        STACKONE_MAX_RETRY_WAIT=RETRY_WAIT,
        STACKONE_MAX_RETRIES=MAX_RETRIES,
    )


@pytest.fixture
def client_waits(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Every wait the StackOne client asks for between retries (they still happen)."""
    waits: list[float] = []

    def sleep(seconds: float) -> None:
        waits.append(seconds)
        time.sleep(seconds)

    fake_time = SimpleNamespace(monotonic=time.monotonic, sleep=sleep)
    monkeypatch.setattr(client_module, "time", fake_time)
    HITS.clear()
    return waits


def without_hanging(call: Callable[[], T]) -> T:
    """Run ``call`` in a thread and fail if it has not returned after :data:`HANG` seconds."""
    result: list[T] = []
    thread = threading.Thread(target=lambda: result.append(call()), daemon=True)
    thread.start()
    thread.join(HANG)
    assert not thread.is_alive(), f"still waiting after {HANG}s: a hang"
    assert result, "the call raised"
    return result[0]


def assert_bounded_retries(mode: str, waits: list[float]) -> None:
    """No request was sent more than once plus the configured retries, the waits between
    them stayed within STACKONE_MAX_RETRY_WAIT, and a Retry-After of 30 s was not obeyed."""
    sent = [count for (hit_mode, _, _), count in HITS.items() if hit_mode == mode]
    assert all(count <= MAX_RETRIES + 1 for count in sent), HITS
    assert sum(waits) <= RETRY_WAIT, waits


@pytest.mark.parametrize("mode", list(EXPECTED))
@pytest.mark.parametrize("route", ["/stackone/connect-session", "/stackone/accounts/acc_1/confirm"])
def test_browser_routes_answer_the_documented_status_without_hanging(
    stackone, client_waits, mode, route
):
    client = app_against(stackone, mode).test_client()
    response = without_hanging(lambda: client.post(route, headers=HEADERS))
    assert (response.status_code, response.get_json()["error"]) == EXPECTED[mode]
    assert_bounded_retries(mode, client_waits)
    if mode == "429":
        assert response.headers["Retry-After"] == "30"


@pytest.mark.parametrize("mode", list(EXPECTED))
@pytest.mark.parametrize(
    "command",
    [
        ["session", "--owner-id", "org_1", "--owner-name", "Acme"],
        ["auth-link", "--owner-id", "org_1", "--owner-name", "Acme"],
        ["accounts", "show", "acc_1"],
        ["accounts", "list"],
        ["accounts", "delete", "acc_1", "--yes"],
    ],
    ids=["session", "auth-link", "show", "list", "delete"],
)
def test_cli_commands_fail_with_a_message_never_a_traceback_nor_a_hang(
    stackone, client_waits, mode, command
):
    runner = app_against(stackone, mode).test_cli_runner()
    result = without_hanging(lambda: runner.invoke(args=["stackone", *command]))
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output and "StackOne" in result.output
    assert not isinstance(result.exception, Exception) or isinstance(result.exception, SystemExit)
    assert_bounded_retries(mode, client_waits)
