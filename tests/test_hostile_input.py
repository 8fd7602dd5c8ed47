"""Hostile input: what an attacker can send to the webhook, token, confirm and onboarding
routes. Over real HTTP with raw sockets where the test client cannot say it (conflicting
lengths, CR/LF in headers, endless chunked bodies), against both Werkzeug's server and
gunicorn. The rule everywhere: no forgery accepted, no 500, the server keeps serving."""

from __future__ import annotations

import hashlib
import json
import socket
import threading
from collections.abc import Iterable, Iterator
from pathlib import Path

import pytest
import requests
import responses
from itsdangerous import URLSafeSerializer
from werkzeug.serving import make_server

from flask_stackone import Owner, account_created, onboarding_link
from flask_stackone.services import onboarding as auth_links_module
from flask_stackone.testing import make_event, record_events, sign

from .conftest import API, SESSION, WEBHOOK_SECRET, assert_no_secret, build_app
from .gunicorn_server import gunicorn
from .hostapp import create_app, runs_db
from .live_server import serve

LIMIT = 4096
WEBHOOK = "/stackone/webhooks"
JSON_HEADERS = {"X-StackOne-Request": "1"}
GENUINE = make_event("account.created", account_id="acc_genuine", origin_owner_id="org_1")


class Server:
    """A host app on a real port, and the receiver runs it recorded."""

    def __init__(self, url: str, instance: Path, kind: str) -> None:
        self.url = url
        self.port = int(url.rsplit(":", 1)[1])
        self.instance = instance
        self.kind = kind

    def runs(self) -> list[str]:
        db = runs_db(str(self.instance))
        try:
            return [key for (key,) in db.execute("SELECT delivery_key FROM runs")]
        finally:
            db.close()

    def raw(self, data: bytes, *, body_chunks: Iterable[bytes] = ()) -> tuple[int, bytes]:
        """Send ``data`` (then ``body_chunks``, from another thread) and read the answer.
        The status is 0 when the server closed the connection without one."""
        with socket.create_connection(("127.0.0.1", self.port), timeout=15) as sock:
            sock.sendall(data)

            def send_rest() -> None:
                try:
                    for chunk in body_chunks:
                        sock.sendall(chunk)
                except OSError:
                    pass  # the server answered and closed: expected for refused bodies

            sender = threading.Thread(target=send_rest, daemon=True)
            sender.start()
            answer = b""
            try:
                while chunk := sock.recv(65536):
                    answer += chunk
                    if b"\r\n\r\n" in answer and _complete(answer):
                        break
            except ConnectionResetError:
                pass
            sender.join(15)
        assert_no_secret(answer, "raw HTTP answer")
        status = int(answer.split(b" ", 2)[1]) if answer.startswith(b"HTTP/1.") else 0
        return status, answer

    def healthy(self) -> bool:
        body = make_event("account.updated", account_id="acc_health", n=len(self.runs()))
        headers = {"X-StackOne-Signature": sign(body, WEBHOOK_SECRET)}
        response = requests.post(self.url + WEBHOOK, data=body, headers=headers, timeout=10)
        return response.status_code == 200


def _complete(answer: bytes) -> bool:
    head, _, body = answer.partition(b"\r\n\r\n")
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return len(body) >= int(value)
    return False


@pytest.fixture(scope="module", params=["werkzeug", "gunicorn"])
def server(request, tmp_path_factory) -> Iterator[Server]:
    instance = tmp_path_factory.mktemp(request.param)
    if request.param == "werkzeug":
        with serve(create_app(str(instance), STACKONE_WEBHOOK_MAX_BYTES=LIMIT)) as url:
            yield Server(url, instance, request.param)
    else:
        env = {"HOSTAPP_INSTANCE": str(instance), "STACKONE_WEBHOOK_MAX_BYTES": str(LIMIT)}
        with gunicorn("tests.hostapp:create_app()", workers=2, env=env) as running:
            yield Server(running.url, instance, request.param)


def request_bytes(headers: list[str], body: bytes = b"", path: str = WEBHOOK) -> bytes:
    lines = [f"POST {path} HTTP/1.1", "Host: 127.0.0.1", "Connection: close", *headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


SIGNATURE = "X-StackOne-Signature: " + sign(GENUINE, WEBHOOK_SECRET)
LENGTH = f"Content-Length: {len(GENUINE)}"
FORGED = make_event("account.created", account_id="acc_forged", origin_owner_id="org_evil")
SMUGGLED = request_bytes(
    [f"Content-Length: {len(FORGED)}", "X-StackOne-Signature: " + sign(FORGED, "guessed")], FORGED
)
CHUNKED = "Transfer-Encoding: chunked"
PAD = b"a" * 5000  # more than LIMIT, so the server answers without waiting for the rest

RAW_CASES = {
    "two different Content-Lengths": request_bytes(
        [SIGNATURE, LENGTH, f"Content-Length: {len(GENUINE) + len(SMUGGLED)}"],
        GENUINE + SMUGGLED,
    ),
    "Content-Length and chunked together": request_bytes(
        [SIGNATURE, LENGTH, CHUNKED],
        GENUINE + b"0\r\n\r\n" + SMUGGLED,
    ),
    "negative Content-Length": request_bytes([SIGNATURE, "Content-Length: -5"], GENUINE),
    "non-numeric Content-Length": request_bytes([SIGNATURE, "Content-Length: 12abc"], GENUINE),
    "absurd Content-Length": request_bytes([SIGNATURE, "Content-Length: " + "9" * 20], GENUINE),
    "bare CR inside the signature header": request_bytes(
        [SIGNATURE[:30] + "\rX-Injected: 1" + SIGNATURE[30:], LENGTH], GENUINE
    ),
    "signature folded over two lines": request_bytes(
        [SIGNATURE[:40], " " + SIGNATURE[40:], LENGTH], GENUINE
    ),
    "NUL byte in the signature": request_bytes(
        [SIGNATURE[:-1] + "\x00", LENGTH], GENUINE
    ),
    "8-bit bytes in the signature": request_bytes(
        ["X-StackOne-Signature: " + "\xe9\xff\x80" * 14, LENGTH], GENUINE
    ),
    "a 100 KB header": request_bytes(
        [SIGNATURE, "X-Padding: " + "a" * 100_000, LENGTH], GENUINE
    ),
    "a chunk size of a terabyte": request_bytes([SIGNATURE, CHUNKED], b"F" * 10 + b"\r\n" + PAD),
    "a chunk size that is not hex": request_bytes([SIGNATURE, CHUNKED], b"zz\r\nabc\r\n0\r\n\r\n"),
    "a space before the colon": request_bytes(
        ["X-StackOne-Signature : " + sign(GENUINE, WEBHOOK_SECRET), LENGTH], GENUINE
    ),
}  # fmt: skip


@pytest.mark.slow
@pytest.mark.parametrize("case", list(RAW_CASES))
def test_malformed_http_never_500_never_a_forgery_and_the_server_keeps_serving(server, case):
    before = set(server.runs())
    status, answer = server.raw(RAW_CASES[case])
    assert status < 500, answer[:300]
    new = set(server.runs()) - before
    assert new <= {hashlib.sha256(GENUINE).hexdigest()}, "only the genuine event may ever run"
    assert b"X-Injected" not in answer.partition(b"\r\n\r\n")[0]
    assert server.healthy()


#: A genuine, correctly signed webhook hidden after the end of a chunked body, in a request
#: that also says Content-Length: a front end that follows Content-Length passes it all as one
#: body; a server that follows Transfer-Encoding and keeps the connection would run it.
HIDDEN = make_event("account.created", account_id="acc_smuggled", origin_owner_id="org_evil")
HIDDEN_REQUEST = request_bytes(
    [f"Content-Length: {len(HIDDEN)}", "X-StackOne-Signature: " + sign(HIDDEN, WEBHOOK_SECRET)],
    HIDDEN,
)  # ends with Connection: close, so a server that reads it answers it and closes
SMUGGLING_BODY = b"0\r\n\r\n" + HIDDEN_REQUEST
SMUGGLING = (
    "\r\n".join(
        [f"POST {WEBHOOK} HTTP/1.1", "Host: 127.0.0.1", "Content-Type: application/json",
         "X-StackOne-Signature: " + sign(b"", "not-the-secret"),
         f"Content-Length: {len(SMUGGLING_BODY)}", CHUNKED]
    ).encode("latin-1")
    + b"\r\n\r\n"
    + SMUGGLING_BODY
)  # fmt: skip


@pytest.mark.slow
def test_a_request_smuggled_after_the_chunked_end_is_never_run(server):
    """Content-Length and Transfer-Encoding together, on a kept-alive connection, with a
    signed request after ``0\\r\\n\\r\\n``: one 4xx answer, the connection closed, the
    hidden request never read. gunicorn refuses the request before the app sees it;
    Werkzeug's server reads the chunked body (empty: 401) and closes every connection
    after its answer."""
    before = set(server.runs())
    with socket.create_connection(("127.0.0.1", server.port), timeout=15) as sock:
        sock.sendall(SMUGGLING)
        answer = b""
        while chunk := sock.recv(65536):  # until the server closes the connection
            answer += chunk
    assert answer.count(b"HTTP/1.1 ") == 1, answer[:600]
    status = int(answer.split(b" ", 2)[1])
    assert 400 <= status < 500, answer[:300]
    head = answer.partition(b"\r\n\r\n")[0].lower()
    assert b"connection: close" in head
    if server.kind == "gunicorn":
        assert status == 400 and b"application/json" not in head  # gunicorn's own refusal
    else:
        assert status == 401  # the app saw the chunked body only: empty, wrongly signed
    assert set(server.runs()) == before  # nothing ran, the hidden event least of all
    assert hashlib.sha256(HIDDEN).hexdigest() not in server.runs()
    assert server.healthy()


@pytest.mark.slow
def test_an_endless_chunked_body_is_cut_off_at_the_limit_with_413(server):
    def endless() -> Iterator[bytes]:
        for _ in range(2000):  # 16 MB at most; the server must answer long before
            yield b"2000\r\n" + b"x" * 0x2000 + b"\r\n"

    status, answer = server.raw(request_bytes([SIGNATURE, CHUNKED]), body_chunks=endless())
    assert status == 413, answer[:300]
    assert json.loads(answer.partition(b"\r\n\r\n")[2])["error"] == "too_large"
    assert server.healthy()


@pytest.mark.slow
def test_a_declared_oversized_body_is_refused_without_reading_it(server):
    status, answer = server.raw(request_bytes([SIGNATURE, f"Content-Length: {50 * 1024 * 1024}"]))
    assert status == 413, answer[:300]


@pytest.mark.slow
def test_the_token_route_refuses_an_oversized_chunked_body(server):
    def big() -> Iterator[bytes]:
        for _ in range(64):
            yield b"400\r\n" + b"{" * 0x400 + b"\r\n"
        yield b"0\r\n\r\n"

    head = request_bytes(["X-StackOne-Request: 1", CHUNKED], path="/stackone/connect-session")
    status, answer = server.raw(head, body_chunks=big())
    assert status == 413, answer[:300]


# -- forged and replayed-with-changes events ---------------------------------------------------


def _changed(body: bytes) -> dict[str, bytes]:
    data = json.loads(body)
    return {
        "another account": body.replace(b"acc_genuine", b"acc_genuinf"),
        "another owner": json.dumps({**data, "origin_owner_id": "org_evil"}).encode(),
        "an event type": body.replace(b"account.created", b"account.deleted"),
        "same JSON, other spacing": json.dumps(data, indent=1).encode(),
        "keys reordered": json.dumps(dict(reversed(data.items()))).encode(),
        "a field appended": body[:-1] + b',"admin":true}',
        "trailing whitespace": body + b" ",
        "a BOM in front": b"\xef\xbb\xbf" + body,
        "UTF-16": json.dumps(data).encode("utf-16"),
        "a duplicate key": body[:-1] + b',"account_id":"acc_evil"}',
    }


@pytest.mark.parametrize("change", list(_changed(GENUINE)))
def test_a_replayed_signature_on_a_changed_body_is_refused(change):
    app = build_app()
    signature = sign(GENUINE, WEBHOOK_SECRET)
    body = _changed(GENUINE)[change]
    with record_events(app) as events:
        response = app.test_client().post(
            WEBHOOK, data=body, headers={"X-StackOne-Signature": signature}
        )
    assert response.status_code == 401 and events == []


@pytest.mark.parametrize(
    "signature",
    [
        sign(GENUINE, WEBHOOK_SECRET + " "),
        sign(GENUINE, WEBHOOK_SECRET.upper()),
        sign(GENUINE, "whsec_test_secre"),
        "sha256=" + sign(GENUINE, WEBHOOK_SECRET),
        "v1," + sign(GENUINE, WEBHOOK_SECRET),
        sign(GENUINE, WEBHOOK_SECRET) + "AA",
        sign(GENUINE, WEBHOOK_SECRET)[:-1],
        hashlib.sha256(WEBHOOK_SECRET.encode() + GENUINE).hexdigest(),
        sign(GENUINE, WEBHOOK_SECRET) + ", " + sign(GENUINE, WEBHOOK_SECRET),
    ],
)
def test_near_miss_signatures_are_refused(signature):
    app = build_app()
    with record_events(app) as events:
        response = app.test_client().post(
            WEBHOOK, data=GENUINE, headers={"X-StackOne-Signature": signature}
        )
    assert response.status_code == 401 and events == []


def test_a_genuine_signature_in_another_header_is_refused():
    app = build_app()
    headers = {
        "X-StackOne-Signature-256": sign(GENUINE, WEBHOOK_SECRET),
        "X-Signature": sign(GENUINE, WEBHOOK_SECRET),
    }
    assert app.test_client().post(WEBHOOK, data=GENUINE, headers=headers).status_code == 401


@pytest.mark.parametrize(
    "body",
    [
        b"[" * 100_000 + b"]" * 100_000,
        b'{"event":"account.created","x":' + b'{"a":' * 50_000 + b"1" + b"}" * 50_001,
        b'{"event":"account.created","account_id":"\xff\xfe"}',
        b'{"event":"account.created","account_id":"\xed\xa0\x80"}',
        b'{"event":"account.created","n":' + b"9" * 5000 + b"}",
        b'{"event":' + b'"' + b"a" * 4000 + b'"}',
        b'{"event":"account.created","account_id":"\\ud800"}',
        b"NaN",
        b'{"event": Infinity}',
    ],
    ids=["nested arrays", "nested objects", "invalid UTF-8", "UTF-8 surrogate", "huge integer",
         "long event name", "lone surrogate escape", "NaN", "Infinity"],
)  # fmt: skip
def test_signed_hostile_bodies_are_4xx_or_handled_never_500(body):
    app = build_app(STACKONE_WEBHOOK_MAX_BYTES=1024 * 1024)
    response = app.test_client().post(
        WEBHOOK, data=body, headers={"X-StackOne-Signature": sign(body, WEBHOOK_SECRET)}
    )
    assert response.status_code in (200, 400), response.status_code
    assert response.is_json


# -- the token route ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        b"[" * 8000,
        b'{"provider":' + b"[" * 8000 + b"]" * 8000 + b"}",
        b'{"provider": "bamboohr\xff"}',
        b"\xff\xfe\xfd",
        b'{"provider": {"$ne": null}}',
        b'{"provider": "' + b"a" * 10_000 + b'"}',
        b'{"provider": "BambooHR"}',
        b'{"provider": "bamboohr\\r\\nX-Injected: 1"}',
        b'{"categories": [["hris"]]}',
        b'{"categories": {"hris": true}}',
        b'{"categories": ["hris", "../admin"]}',
        b'{"account_id": "../connect_sessions"}',
        b'{"account_id": "acc_1/../../accounts"}',
        b'{"account_id": "acc_1\\r\\nX-Injected: 1"}',
        b'{"account_id": ["acc_1"]}',
        b'{"account_id": "' + b"a" * 200 + b'"}',
        b'{"provider": null, "categories": null, "account_id": 7}',
    ],
)
def test_hostile_token_route_bodies_are_400_and_never_reach_stackone(api, body):
    app = build_app()
    response = app.test_client().post(
        "/stackone/connect-session",
        data=body,
        headers={**JSON_HEADERS, "Content-Type": "application/json"},
    )
    assert response.status_code == 400, response.get_data()
    assert response.get_json()["error"] in (
        "invalid_json", "invalid_provider", "invalid_category", "invalid_account_id"
    )  # fmt: skip
    assert "X-Injected" not in response.headers
    assert len(api.calls) == 0


@pytest.mark.parametrize("header", [None, "", "0", "true", "1 ", "1, 1"])
def test_the_token_route_needs_exactly_its_request_header(api, header):
    headers = {} if header is None else {"X-StackOne-Request": header}
    response = build_app().test_client().post("/stackone/connect-session", headers=headers)
    assert response.status_code == 403 and len(api.calls) == 0


# -- the confirm route -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "owner_id",
    ["org_2", "ORG_1", "org_1 ", " org_1", "org_10", "", None, 1, ["org_1"]],
)
def test_confirm_refuses_an_account_of_another_organisation(api, owner_id):
    app = build_app()
    api.get(
        f"{API}/accounts/acc_9",
        json={"id": "acc_9", "provider": "hibob", "origin_owner_id": owner_id},
    )
    with record_events(app) as events:
        response = app.test_client().post("/stackone/accounts/acc_9/confirm", headers=JSON_HEADERS)
    assert response.status_code == 403, response.get_data()
    assert response.get_json()["error"] == "foreign_account"
    assert events == []


@pytest.mark.parametrize(
    "path",
    [
        "/stackone/accounts/..%2Fconnect_sessions/confirm",
        "/stackone/accounts/acc_1%0D%0AX-Injected:%201/confirm",
        "/stackone/accounts/acc_1%00/confirm",
        "/stackone/accounts/" + "a" * 300 + "/confirm",
        "/stackone/accounts/%C3%A9/confirm",
    ],
)
def test_confirm_refuses_ids_that_are_not_stackone_ids_before_calling_stackone(api, path):
    app = build_app()
    with record_events(app) as events:
        response = app.test_client().post(path, headers=JSON_HEADERS)
    assert response.status_code in (400, 404), response.status_code
    assert "X-Injected" not in response.headers
    assert events == [] and len(api.calls) == 0


def test_confirm_never_trusts_an_owner_sent_by_the_browser(api):
    app = build_app()
    api.get(
        f"{API}/accounts/acc_9",
        json={"id": "acc_9", "provider": "hibob", "origin_owner_id": "org_2"},
    )
    response = app.test_client().post(
        "/stackone/accounts/acc_9/confirm",
        json={"origin_owner_id": "org_2", "owner_id": "org_2", "owner": {"id": "org_2"}},
        headers=JSON_HEADERS,
    )
    assert response.status_code == 403


def test_a_confirm_from_a_signed_out_browser_calls_nothing(api):
    app = build_app(owner=None)
    seen = []
    with account_created.connected_to(lambda sender, event: seen.append(event), app):
        response = app.test_client().post("/stackone/accounts/acc_9/confirm", headers=JSON_HEADERS)
    assert response.status_code == 401 and seen == [] and len(api.calls) == 0


# -- onboarding links --------------------------------------------------------------------------

ACME = Owner("org_1", "Acme Ltd", "ada@acme.test")


def _serializer(app, key: str = "test-secret-key") -> URLSafeSerializer:
    return URLSafeSerializer(key, salt=f"{auth_links_module.SALT}:stackone")


@pytest.mark.parametrize(
    "payload",
    [
        {"v": 1, "o": "org_1", "n": "Acme", "e": 10**20},
        {"v": 1, "o": "org_1", "n": "Acme", "e": -(10**20)},
        {"v": 1, "o": "org_1", "n": "Acme", "e": 1e308},
        {"v": 1, "o": "org_1", "n": "Acme", "e": "9999999999"},
        {"v": 1, "o": "org_1", "n": "Acme", "e": True},
        {"v": 2, "o": "org_1", "n": "Acme", "e": 4102444800},
        {"v": 1, "o": ["org_1"], "n": "Acme", "e": 4102444800},
        {"v": 1, "o": "", "n": "Acme", "e": 4102444800},
        {"v": 1, "o": "org_1", "e": 4102444800},
        {"v": 1, "o": "org_1", "n": "Acme", "u": 5, "e": 4102444800},
        {"v": 1, "o": "org_1", "n": "Acme", "e": 4102444800, "p": {"x": 1}},
        {"v": 1, "o": "org_1", "n": "Acme", "e": 4102444800, "c": "hris"},
        {"v": 1, "o": "org_1", "n": "Acme", "e": 4102444800, "c": [1]},
        ["v", 1],
        None,
    ],
)
def test_a_link_payload_of_the_wrong_shape_is_refused_even_when_signed(api, payload):
    """Defence in depth: even a payload signed with the app's key cannot cause a 500."""
    app = build_app()
    client = app.test_client()
    signed = _serializer(app).dumps(payload)
    for response in (
        client.get(f"/stackone/link/{signed}"),
        client.post(f"/stackone/link/{signed}"),
    ):
        assert response.status_code in (400, 410), (payload, response.status_code)
    answer = client.post(f"/stackone/link/{signed}/session", headers=JSON_HEADERS)
    assert answer.status_code in (400, 410) and answer.is_json
    assert len(api.calls) == 0


def test_a_link_expires_at_its_exact_second(api, monkeypatch):
    app = build_app()
    with app.test_request_context():
        path = onboarding_link(ACME, max_age=100).removeprefix("http://localhost")
    expires = auth_links_module._now() // 1 + 100
    monkeypatch.setattr(auth_links_module, "_now", lambda: expires)
    assert app.test_client().get(path).status_code == 410
    monkeypatch.setattr(auth_links_module, "_now", lambda: expires - 1)
    assert app.test_client().get(path).status_code == 200


def test_a_link_cannot_be_extended_or_moved_to_another_owner(api):
    app = build_app()
    with app.test_request_context():
        path = onboarding_link(ACME, max_age=60).removeprefix("http://localhost")
    signed = path.rsplit("/", 1)[1]
    payload = _serializer(app).loads(signed)
    unsigned = URLSafeSerializer("guessed-key", salt=f"{auth_links_module.SALT}:stackone")
    key_less, mac = signed.rsplit(".", 1)
    for forged in (
        unsigned.dumps({**payload, "e": payload["e"] + 10**6}),
        unsigned.dumps({**payload, "o": "org_2", "n": "Globex"}),
        URLSafeSerializer("test-secret-key", salt="another.purpose").dumps(payload),
        _serializer(app).dumps({**payload, "e": payload["e"] + 1}).rsplit(".", 1)[0] + "." + mac,
        key_less,
        key_less + ".",
        signed.replace(".", ".."),
        signed + "%0D%0ASet-Cookie:%20a=b",
    ):  # fmt: skip
        client = app.test_client()
        response = client.get(f"/stackone/link/{forged}")
        assert response.status_code == 400, forged
        assert "Set-Cookie" not in response.headers
        assert (
            client.post(f"/stackone/link/{forged}/session", headers=JSON_HEADERS).status_code == 400
        )
    assert len(api.calls) == 0


# -- a trailing newline: `$` also matches before a final "\n" ------------------------------------


def test_an_account_id_with_a_trailing_newline_fires_nothing(api):
    """``POST /stackone/accounts/mine_1%0A/confirm`` fired ``account_created`` with that id."""
    api.get(
        f"{API}/accounts/mine_1%0A",
        json={"id": "mine_1\n", "provider": "bamboohr", "origin_owner_id": "org_1"},
    )
    app = build_app()
    with record_events(app) as events:
        response = app.test_client().post(
            "/stackone/accounts/mine_1%0A/confirm", headers=JSON_HEADERS
        )
    assert response.status_code == 400
    assert response.get_json()["error"] == "invalid_account_id"
    assert events == [] and len(api.calls) == 0
    api.reset()


@pytest.mark.parametrize(
    ("options", "code"),
    [
        ({"account_id": "mine_1\n"}, "invalid_account_id"),
        ({"account_id": "mine_1\r\n"}, "invalid_account_id"),
        ({"provider": "bamboohr\n"}, "invalid_provider"),
        ({"categories": ["hris\n"]}, "invalid_category"),
        ({"categories": "hris\n"}, "invalid_category"),
    ],
)
def test_options_with_a_trailing_newline_never_reach_stackone(api, options, code):
    response = (
        build_app()
        .test_client()
        .post("/stackone/connect-session", json=options, headers=JSON_HEADERS)
    )
    assert response.status_code == 400, response.get_data()
    assert response.get_json()["error"] == code
    assert len(api.calls) == 0


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("STACKONE_PROVIDERS", ["bamboohr\n"]),
        ("STACKONE_CATEGORIES", ["hris\n"]),
        ("STACKONE_HUB_SCRIPT_URL", "https://cdn.example/hub.js\n"),
        ("STACKONE_SANDBOX_WEBHOOK_URL", "http://127.0.0.1:5000/hook\n"),
    ],
)
def test_settings_with_a_trailing_newline_are_refused(key, value):
    from flask_stackone import ConfigurationError

    with pytest.raises(ConfigurationError, match=key):
        build_app(**{key: value})


@pytest.mark.parametrize("height", ["500px\n", "500px\r\n", "50%\n"])
def test_a_widget_height_with_a_trailing_newline_is_refused(height):
    from flask import render_template_string

    app = build_app()
    with app.test_request_context("/"), pytest.raises(ValueError, match="height"):
        render_template_string("{{ stackone_hub(height=height) }}", height=height)


def test_the_cli_refuses_a_provider_with_a_trailing_newline(api):
    result = (
        build_app()
        .test_cli_runner()
        .invoke(
            args=[
                "stackone",
                "session",
                "--owner-id",
                "o",
                "--owner-name",
                "O",
                "--provider",
                "bamboohr\n",
            ]
        )
    )
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert len(api.calls) == 0


def test_no_pattern_in_the_package_or_the_example_app_ends_in_a_bare_dollar():
    """Every id, slug and format pattern matches the whole value: ``fullmatch`` or ``\\Z``,
    never ``$`` (which also matches before a final newline)."""
    import re

    root = Path(__file__).resolve().parent.parent
    sources = [
        path
        for folder in ("flask_stackone", "example_app")
        for path in (root / folder).rglob("*.py")
        if "sandbox" not in path.relative_to(root).parts
    ]
    dollar = re.compile(
        r"""re\.(?:compile|match|search|fullmatch)\(\s*r?b?r?(["'])(?:(?!\1).)*\$\1"""
    )
    found = [
        f"{path.relative_to(root)}: {m.group(0)}"
        for path in sources
        for m in dollar.finditer(path.read_text(encoding="utf-8"))
    ]
    assert found == []


def test_the_accounts_panel_routes_refuse_a_trailing_newline_too(api):
    client = build_app().test_client()
    disconnect = client.post("/stackone/accounts/mine_1%0A/disconnect", headers=JSON_HEADERS)
    assert disconnect.status_code == 400
    assert disconnect.get_json()["error"] == "invalid_account_id"
    for query in ("provider=bamboohr%0A", "categories=hris%0A"):
        listed = client.get(f"/stackone/accounts?{query}", headers=JSON_HEADERS)
        assert listed.status_code == 400, (query, listed.get_data())
    assert len(api.calls) == 0


# -- hostile input found by review ----------------------------------------------------------

BODY_ROUTES = [
    "/stackone/connect-session",
    "/stackone/webhooks",
    "/stackone/accounts/acc_1/confirm",
]


@pytest.mark.parametrize("length", ["\xb2", "\xb9", "\xb3"])  # latin-1 superscript digits
@pytest.mark.parametrize("path", BODY_ROUTES)
def test_superscript_content_length_is_not_a_500(tmp_path, path, length):
    """str.isdigit() is True for '²' but int('²') raises: never a 500 for it."""
    app = build_app(instance_path=str(tmp_path))
    app.testing = False
    app.config["PROPAGATE_EXCEPTIONS"] = False
    with responses.RequestsMock(assert_all_requests_are_fired=False) as stackone:
        stackone.post(f"{API}/connect_sessions", status=201, json=SESSION)
        stackone.get(
            f"{API}/accounts/acc_1",
            json={"id": "acc_1", "provider": "bamboohr", "status": "active",
                  "origin_owner_id": "org_1", "origin_owner_name": "Acme Ltd"},
        )  # fmt: skip
        rv = app.test_client().post(
            path,
            data=b"{}",
            headers={"X-StackOne-Request": "1"},
            environ_overrides={"CONTENT_LENGTH": length},
        )
    assert rv.status_code < 500, rv.get_data()


def test_superscript_content_length_over_real_http_is_not_a_500(tmp_path):
    app = build_app(instance_path=str(tmp_path))
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        with socket.create_connection(("127.0.0.1", server.server_port), timeout=5) as sock:
            sock.sendall(
                b"POST /stackone/webhooks HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                b"Content-Length: \xb2\r\n\r\n{}"
            )
            status_line = sock.recv(4096).split(b"\r\n", 1)[0]
    finally:
        server.shutdown()
    assert b" 500 " not in status_line, status_line
