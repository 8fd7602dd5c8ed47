"""Shared fixtures. Every app built here uses the same API key and webhook secret, and a
guard fails any test in which one of them shows up in a response or a log record."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
import responses
from flask import Flask
from flask.testing import FlaskClient

from flask_stackone import Owner, make_blueprint

API_KEY = "sk_test_VERYSECRETKEY_4f2a9c"
WEBHOOK_SECRET = "whsec_test_secret"
API = "https://api.stackone.com"
SECRETS = (API_KEY, WEBHOOK_SECRET)


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


def build_app(owner: Owner | None = Owner("org_1", "Acme Ltd", "ada@acme.test"), **config) -> Flask:
    """A minimal host app whose signed-in owner is ``owner`` (``None``: nobody)."""
    app = Flask("host_app")
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
