"""Property-based: hostile input at every route of the sandbox (ids past 64 bits, CR/LF,
huge and unicode values, wrong JSON types, random paths and methods) is answered with a 4xx,
never a 500; an API path always answers StackOne's JSON error body."""

from __future__ import annotations

import base64
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from flask import Flask
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Request

from flask_stackone.sandbox import create_app, get_sandbox, stop_deliveries
from flask_stackone.sandbox.blueprint import is_api_path

from .conftest import API_KEY, WEBHOOK_SECRET, build_app

AUTH = {"Authorization": "Basic " + base64.b64encode(f"{API_KEY}:".encode()).decode()}
FUZZ = settings(max_examples=400, deadline=None, suppress_health_check=list(HealthCheck))


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Flask, dict[str, str]]]:
    """A standalone sandbox with one session, one account and one delivery to aim at."""
    folder = tmp_path_factory.mktemp("fuzz")
    app = create_app(
        {
            "SANDBOX_API_KEY": API_KEY,
            "SANDBOX_WEBHOOK_SECRET": WEBHOOK_SECRET,
            "SANDBOX_DB": str(folder / "sandbox.sqlite3"),
        }
    )
    client = app.test_client()
    token = client.post(
        "/connect_sessions",
        json={"origin_owner_id": "org_1", "origin_owner_name": "Acme"},
        headers=AUTH,
    ).json["token"]
    linked = client.post(
        "/hub/accounts",
        json={"integration_id": "sbx-rippling", "credentials": {"api_token": "t"}},
        headers={"x-hub-session-token": token},
    )
    assert linked.status_code == 201
    known = {"token": token, "account": linked.json["id"], "delivery": "1"}
    yield app, known
    stop_deliveries(app)


#: Values a path segment, a query value or a header may hold.
hostile_text = st.one_of(
    st.integers(min_value=2**63 - 2, max_value=10**40).map(str),
    st.integers(min_value=-(10**30), max_value=-1).map(str),
    st.sampled_from(["", ".", "..", "0", "1", "²", "\u0661", "1e999", "nan", "-0", " 1"]),
    st.text(max_size=40),
    st.text(alphabet="\r\n\t\x00 %/?#&=;:@", max_size=12),
    st.builds(lambda text, n: text * n, st.text(min_size=1, max_size=5), st.integers(1, 3000)),
    st.text(alphabet=st.characters(min_codepoint=0x80, max_codepoint=0x10FFFF), max_size=20),
)
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**30), max_value=10**30)
    | st.floats(allow_nan=False)
    | hostile_text,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(hostile_text, inner, max_size=5),
    max_leaves=10,
)
#: JSON bodies shaped like the real ones, with any field of any type.
FIELDS = [
    "origin_owner_id", "origin_owner_name", "origin_username", "provider", "categories",
    "account_id", "expires_in", "metadata", "multiple", "label", "type", "token",
    "integration_id", "credentials", "setup_information", "secrets", "environment",
    "authentication_config_key", "provider_version", "connector_profile_id",
]  # fmt: skip
bodies = st.one_of(
    json_values,
    st.dictionaries(st.sampled_from(FIELDS), json_values, max_size=6),
    st.builds(
        lambda fields: {"origin_owner_id": "o", "origin_owner_name": "O", **fields},
        st.dictionaries(st.sampled_from(FIELDS), json_values, max_size=3),
    ),
)


class Raw(bytes):
    """A body whose repr stays short in a failure report."""

    def __repr__(self) -> str:
        return f"<{len(self)} bytes: {bytes(self[:60])!r}>"


raw_bodies = st.one_of(
    bodies.map(lambda b: json.dumps(b).encode()),
    st.binary(max_size=300),
    st.just(b'{"a":' * 5000),  # deeply nested
    st.just(b"[" * 100_000),
).map(Raw)

#: (method, rule) of every route; ``{x}`` is a path segment the test fills in.
ROUTES = [
    ("POST", "/connect_sessions"), ("POST", "/connect_sessions/authenticate"),
    ("GET", "/accounts"), ("GET", "/accounts/{account}"), ("PATCH", "/accounts/{account}"),
    ("DELETE", "/accounts/{x}"), ("GET", "/accounts/{account}/meta"),
    ("GET", "/connectors/meta"), ("GET", "/connectors/meta/{x}"),
    ("GET", "/hub/settings"), ("GET", "/hub/connectors"), ("GET", "/hub/connectors/{x}"),
    ("POST", "/hub/accounts"), ("GET", "/hub/accounts/{account}"),
    ("PATCH", "/hub/accounts/{account}"), ("POST", "/hub/connection_attempts"),
    ("GET", "/hub/connection_attempts/{x}"), ("DELETE", "/hub/connection_attempts/{x}"),
    ("GET", "/connect/oauth2/{x}"), ("POST", "/connect/oauth2/sbx-lever"),
    ("GET", "/embedded/accounts/callback"), ("GET", "/auth-link/{token}"),
    ("POST", "/auth-link/{token}"), ("POST", "/auth-link/{x}/session"),
    ("GET", "/logos/{x}.svg"), ("GET", "/hub-script/{x}/webcomponent.js"), ("GET", "/"),
    ("POST", "/accounts/{account}/status"), ("POST", "/accounts/{x}/delete"),
    ("POST", "/deliveries/{x}/retry"), ("POST", "/deliveries/{delivery}/retry"),
    ("GET", "/unified/{x}"), ("PUT", "/{x}"), ("GET", "/{x}/{x}"),
]  # fmt: skip


def fill(rule: str, known: dict[str, str], segment: str) -> str:
    for name, value in known.items():
        rule = rule.replace("{" + name + "}", quote(value, safe=""))
    return rule.replace("{x}", quote(segment, safe="")) or "/"


NOT_EMULATED = ("unified", "actions", "proxy", "mcp")


def check(response: Any, path: str) -> None:
    """4xx at worst; a 501 only for StackOne's APIs the sandbox does not emulate."""
    status = response.status_code
    deliberate = status == 501 and path.lstrip("/").split("/")[0] in NOT_EMULATED
    assert status < 500 or deliberate, (path, status, response.get_data()[:300])
    if is_api_path(path) and response.status_code >= 400:
        body = response.get_json(silent=True)
        assert isinstance(body, dict), (path, response.get_data()[:200])
        assert set(body) >= {"statusCode", "message", "timestamp"}, body


@FUZZ
@given(
    route=st.sampled_from(ROUTES),
    segment=hostile_text,
    body=raw_bodies,
    query=st.dictionaries(
        st.sampled_from(
            [
                "page",
                "page_size",
                "providers",
                "provider",
                "status",
                "account_ids",
                "origin_owner_id",
                "origin_owner_ids",
                "include",
                "form",
                "integration",
                "token",
                "connection_attempt_id",
                "redirect_uri",
                "action",
                "status",
            ]
        )
        | hostile_text,
        hostile_text,
        max_size=4,
    ),
    auth=st.sampled_from(["key", "none", "garbage"]),
    # (a header holding CR or LF never reaches an app: servers and clients refuse it)
    hub_token=st.one_of(
        st.just("<token>"), hostile_text.filter(lambda t: not {"\r", "\n"} & set(t))
    ),
    form=st.booleans(),
)
def test_no_route_answers_500(
    sandbox: tuple[Flask, dict[str, str]],
    route: tuple[str, str],
    segment: str,
    body: bytes,
    query: dict[str, str],
    auth: str,
    hub_token: str,
    form: bool,
) -> None:
    app, known = sandbox
    method, rule = route
    path = fill(rule, known, segment)
    headers = dict(AUTH) if auth == "key" else {}
    if auth == "garbage":
        headers["Authorization"] = "Basic " + segment.encode("utf-8", "replace").hex()[:200]
    token = known["token"] if hub_token == "<token>" else hub_token
    headers["x-hub-session-token"] = token.encode("utf-8", "replace").decode("latin-1")[:500]
    kwargs: dict[str, Any] = {"query_string": query, "headers": headers}
    if form:
        kwargs["data"] = {k[:50]: v for k, v in query.items()}
    else:
        kwargs["data"] = body
        kwargs["content_type"] = "application/json"
    response = app.test_client().open(path, method=method, **kwargs)
    check(response, path)


@FUZZ
@given(
    method=st.sampled_from(["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "HEAD"]),
    segments=st.lists(hostile_text, min_size=0, max_size=4),
)
def test_random_paths_answer_4xx_and_api_paths_answer_json(
    sandbox: tuple[Flask, dict[str, str]], method: str, segments: list[str]
) -> None:
    app, _ = sandbox
    path = "/" + "/".join(segments)
    response = app.test_client().open(raw_path(path, method))
    check(response, path)


def raw_path(path: str, method: str, **headers: str) -> Request:
    """A WSGI environ for ``path`` exactly as a server hands it over (the request line's
    bytes, percent-decoded, as latin-1 text), "//" and all."""
    environ = EnvironBuilder(method=method, headers={**AUTH, **headers}).get_environ()
    environ["PATH_INFO"] = path.encode("utf-8", "replace").decode("latin-1")
    return Request(environ)


@pytest.fixture(scope="module")
def host(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flask]:
    app = build_app(instance_path=str(tmp_path_factory.mktemp("host")), STACKONE_SANDBOX=True)
    yield app
    stop_deliveries(app)


@FUZZ
@given(
    method=st.sampled_from(["GET", "POST", "PATCH", "DELETE"]),
    tail=st.lists(hostile_text, min_size=0, max_size=3),
    body=raw_bodies,
)
def test_the_mounted_sandbox_never_answers_500(
    host: Flask, method: str, tail: list[str], body: bytes
) -> None:
    path = "/stackone-sandbox" + "".join("/" + s for s in tail)
    request = raw_path(path, method, **{"Content-Type": "application/json"})
    request.environ["wsgi.input"] = io.BytesIO(body)
    request.environ["CONTENT_LENGTH"] = str(len(body))
    response = host.test_client().open(request)
    assert response.status_code < 500 or response.status_code == 501, (path, response.status_code)


def test_the_reported_500s_are_4xx_now(tmp_path: Path) -> None:
    app = create_app({"SANDBOX_DB": str(tmp_path / "s.sqlite3"), "SANDBOX_API_KEY": API_KEY})
    client = app.test_client()
    try:
        retry = client.post("/deliveries/99999999999999999999/retry")
        assert retry.status_code == 404 and "No such delivery" in retry.text
        token = client.post(
            "/connect_sessions",
            json={"origin_owner_id": "o", "origin_owner_name": "O", "provider": "lever"},
            headers=AUTH,
        ).json["token"]
        attempt = client.post(
            "/hub/connection_attempts",
            json={"token": token},
            headers={"x-hub-session-token": token},
        ).json["id"]
        for uri in (
            "http://localhost/embedded/accounts/callback\r\nSet-Cookie: a=b",
            "http://localhost/embedded\naccounts",
            "javascript:alert(1)",
            "http://evil.example/embedded/accounts/callback",
        ):
            popup = client.post(
                "/connect/oauth2/sbx-lever",
                data={
                    "token": token, "connection_attempt_id": attempt,
                    "redirect_uri": uri, "action": "authorize",
                },
            )  # fmt: skip
            assert popup.status_code == 400, uri
            assert "Set-Cookie" not in popup.headers and "redirect_uri" in popup.text
        assert get_sandbox(app).store.accounts() == []  # nothing was linked by those
    finally:
        stop_deliveries(app)


@pytest.mark.parametrize("header", ["Basic abc", "Basic ###", "Basic " + "w" * 7, "Basic //8="])
def test_a_malformed_basic_header_is_stackones_401(
    sandbox: tuple[Flask, dict[str, str]], header: str
) -> None:
    app, _ = sandbox
    response = app.test_client().get("/accounts", headers={"Authorization": header})
    assert response.status_code == 401 and response.get_json()["statusCode"] == 401
