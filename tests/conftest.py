"""Shared fixtures. Every app built here uses the same API key and webhook secret, and a
guard fails any test in which one of them shows up in a response or a log record."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
import responses
from flask import Flask
from flask.testing import FlaskClient
from responses import matchers

from flask_stackone import AccountEvent, Owner, account_created, errors, make_blueprint
from flask_stackone.core.client import is_local_url
from flask_stackone.core.hub_script import HUB_VERSION, PINS

API_KEY = "sk_test_VERYSECRETKEY_4f2a9c"
WEBHOOK_SECRET = "whsec_test_secret"
API = "https://api.stackone.com"
SECRETS = (API_KEY, WEBHOOK_SECRET)
#: StackOne's 201 answer to POST /connect_sessions, as the tests' mocked StackOne gives it.
SESSION = {
    "id": 9,
    "organization_id": "1",
    "project_id": "p",
    "origin_owner_id": "org_1",
    "origin_owner_name": "Acme Ltd",
    "created_at": "2026-11-24T10:00:00Z",
    "token": "hub-token-xyz",
    "auth_link_url": "https://hub.stackone.com/link?token=hub-token-xyz",
}


class GuardedClient(FlaskClient):
    """A test client that fails the test if a secret appears in any answer."""

    def open(self, *args, **kwargs):  # type: ignore[override]
        response = super().open(*args, **kwargs)
        assert_no_secret(response.get_data(), "response body")
        for name, value in response.headers.items():
            assert_no_secret(f"{name}: {value}".encode(), "response header")
        return response


def assert_no_secret(data: bytes | str, where: str) -> None:
    text = data if isinstance(data, str) else data.decode("utf-8", "replace")
    for secret in SECRETS:
        assert secret not in text, f"a secret leaked into a {where}"


@pytest.fixture(autouse=True)
def no_secret_in_logs(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    caplog.set_level(logging.DEBUG)
    yield
    for record in caplog.records:
        assert_no_secret(record.getMessage(), "log record")
        if record.exc_info and record.exc_info[1] is not None:
            assert_no_secret(str(record.exc_info[1]), "logged exception")


@pytest.fixture(autouse=True)
def no_secret_over_http_or_in_errors(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Also guard every ``requests`` answer from a server on 127.0.0.1 / localhost (live
    apps, gunicorn, the sandbox's deliveries; mocked StackOne answers are test input) and
    the text of every exception the plugin creates, caught or not. Leaks are collected
    and asserted after the test, so no ``except`` can swallow them. Raw-socket tests call
    :func:`assert_no_secret` on what they read themselves."""
    leaks: list[str] = []

    def check(text: str, where: str) -> None:
        if any(secret in text for secret in SECRETS):
            leaks.append(where)

    send = requests.Session.send

    def guarded_send(self: requests.Session, request, **kwargs):  # type: ignore[no-untyped-def]
        response = send(self, request, **kwargs)
        if not is_local_url(request.url):
            return response
        check("".join(f"{k}: {v}\n" for k, v in response.headers.items()), "HTTP header")
        if not kwargs.get("stream"):
            check(response.content.decode("utf-8", "replace"), "HTTP body")
        return response

    monkeypatch.setattr(requests.Session, "send", guarded_send)
    bases = (errors.ConfigurationError, errors.StackOneError, errors.WebhookError)
    for cls in (*bases, errors.InvalidOptionError):  # the roots of every plugin error
        init = cls.__init__

        def guarded_init(self, *args, __init=init, **kwargs):  # type: ignore[no-untyped-def]
            __init(self, *args, **kwargs)
            check(f"{self.args!r} {self}", f"{type(self).__name__} message")

        monkeypatch.setattr(cls, "__init__", guarded_init)
    yield
    assert not leaks, f"a secret leaked into: {', '.join(sorted(set(leaks)))}"


DEFAULT_OWNER = Owner("org_1", "Acme Ltd", "ada@acme.test")


def expect_session(api: responses.RequestsMock, body: dict, **answer) -> None:
    """StackOne answers one POST /connect_sessions whose JSON body is exactly ``body``."""
    api.post(
        f"{API}/connect_sessions",
        status=201,
        json={**SESSION, **answer},
        match=[matchers.json_params_matcher(body, strict_match=True)],
    )


def build_app(
    owner: Owner | None = DEFAULT_OWNER, instance_path: str | None = None, **config
) -> Flask:
    """A minimal host app whose signed-in owner is ``owner`` (``None``: nobody)."""
    app = Flask("host_app", instance_path=instance_path)
    app.test_client_class = GuardedClient
    app.config.update(
        TESTING=True,
        SECRET_KEY="test-secret-key",
        STACKONE_API_KEY=API_KEY,
        STACKONE_WEBHOOK_SECRET=WEBHOOK_SECRET,
        STACKONE_MAX_RETRY_WAIT=0.5,
    )
    app.config.update(config)
    bp = make_blueprint()
    bp.owner_loader(lambda: owner)
    app.register_blueprint(bp)
    return app


def counting_app(store: object, **config: object) -> tuple[Flask, list[str]]:
    """A host app on ``store`` that waits for no busy delivery, and the account ids its
    ``account_created`` receiver ran for, in order."""
    app = build_app(STACKONE_DELIVERY_STORE=store, STACKONE_DELIVERY_WAIT=0, **config)
    runs: list[str] = []

    @account_created.connect_via(app, weak=False)
    def record(sender: Flask, event: AccountEvent, **extra: object) -> None:
        runs.append(event.account_id or "")

    return app, runs


@pytest.fixture
def installed(tmp_path: Path) -> Path:
    """A hub folder the widget counts as installed (the pinned size; content not served)."""
    folder = tmp_path / "hub" / HUB_VERSION
    folder.mkdir(parents=True)
    (folder / "webcomponent.js").write_bytes(b" " * PINS[HUB_VERSION].size)
    (folder / "webcomponent.js.gz").write_bytes(b"")
    return tmp_path / "hub"


@pytest.fixture
def app() -> Flask:
    return build_app()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def api() -> Iterator[responses.RequestsMock]:
    """StackOne, as ``responses`` mocks: every call a test does not expect fails it."""
    with responses.RequestsMock(assert_all_requests_are_fired=True) as mock:
        yield mock
