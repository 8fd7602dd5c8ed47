"""Auth links (StackOne's hosted link) and onboarding links (signed links to this app)."""

from __future__ import annotations

import string
import warnings
from datetime import datetime, timedelta, timezone

import pytest
from flask_wtf.csrf import CSRFProtect
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from itsdangerous import URLSafeSerializer

from flask_stackone import (
    ConfigurationError,
    InvalidOptionError,
    Owner,
    connect_session_created,
    create_auth_link,
    get_state,
    make_blueprint,
    onboarding_link,
)
from flask_stackone.errors import AuthenticationError
from flask_stackone.services import onboarding as auth_links_module

from . import conftest as shared
from .conftest import API, API_KEY, SESSION, build_app

ACME = Owner("org_1", "Acme Ltd", "ada@acme.test")
LINK_URL = SESSION["auth_link_url"]
JSON_HEADERS = {"X-StackOne-Request": "1"}


def expect_session(api, **body):
    """StackOne answers one POST /connect_sessions whose body is exactly ACME + ``body``."""
    shared.expect_session(
        api,
        {
            "origin_owner_id": "org_1",
            "origin_owner_name": "Acme Ltd",
            "origin_username": "ada@acme.test",
            **body,
        },
    )


def link_path(app, owner=ACME, **kwargs) -> str:
    with app.test_request_context():
        url = onboarding_link(owner, **kwargs)
    assert url.startswith("http://localhost/stackone/link/")
    return url.removeprefix("http://localhost")


def signed_of(path: str) -> str:
    return path.rsplit("/", 1)[1]


# -- create_auth_link ---------------------------------------------------------------------------


def test_auth_link_lives_five_days_by_default_and_works_with_only_an_app_context(api, app):
    expect_session(api, provider="bamboohr", expires_in=432000)
    before = datetime.now(timezone.utc)
    with app.app_context():
        link = create_auth_link(ACME, provider="bamboohr")
    assert link.url == LINK_URL
    assert link.expires_in == 432000 and link.session_id == "9"
    assert before + timedelta(days=5) <= link.expires_at <= before + timedelta(days=5, seconds=2)
    assert "token" not in repr(link) and LINK_URL not in repr(link)


def test_auth_link_lifetime_and_categories_are_sent(api, app):
    expect_session(api, categories=["ats", "hris"], expires_in=86400)
    with app.test_request_context():
        link = create_auth_link(ACME, categories=("hris", "ats"), expires_in=timedelta(days=1))
    assert link.expires_in == 86400


def test_auth_link_default_lifetime_comes_from_the_setting(api):
    app = build_app(STACKONE_AUTH_LINK_EXPIRES_IN=3600)
    expect_session(api, expires_in=3600)
    with app.app_context():
        assert create_auth_link(ACME).expires_in == 3600


@pytest.mark.parametrize("bad", [0, -5, True, 1.5, "3600", 7 * 86400 + 1, timedelta(days=8)])
def test_auth_link_refuses_a_bad_lifetime_before_calling_stackone(api, app, bad):
    with app.app_context(), pytest.raises(InvalidOptionError) as caught:
        create_auth_link(ACME, expires_in=bad)
    assert caught.value.code == "invalid_expires_in"
    assert len(api.calls) == 0


def test_auth_link_names_the_setting_when_its_value_is_above_the_limit(api):
    app = build_app(STACKONE_AUTH_LINK_EXPIRES_IN=30 * 86400)
    with (
        app.app_context(),
        pytest.raises(ConfigurationError, match="STACKONE_AUTH_LINK_EXPIRES_IN"),
    ):
        create_auth_link(ACME)


def test_auth_link_honours_the_provider_allow_list(api):
    app = build_app(STACKONE_PROVIDERS=["hibob"])
    with app.app_context(), pytest.raises(InvalidOptionError) as caught:
        create_auth_link(ACME, provider="bamboohr")
    assert caught.value.code == "provider_not_allowed"


def test_auth_link_passes_stackone_errors_on_without_the_key(api, app):
    api.post(f"{API}/connect_sessions", status=401, json={"statusCode": 401, "message": "nope"})
    with app.app_context(), pytest.raises(AuthenticationError) as caught:
        create_auth_link(ACME)
    assert API_KEY not in str(caught.value)


def test_auth_link_sends_the_audit_signal_without_the_token(api, app):
    expect_session(api, expires_in=432000)
    seen = []
    with (
        app.app_context(),
        connect_session_created.connected_to(lambda sender, event: seen.append(event), app),
    ):
        create_auth_link(ACME)
    assert [e.owner_id for e in seen] == ["org_1"]
    assert "hub-token-xyz" not in repr(seen[0])


# -- onboarding_link: building ------------------------------------------------------------------


def test_onboarding_link_carries_no_stackone_token_and_calls_nothing(api, app):
    path = link_path(app, provider="bamboohr")
    payload = URLSafeSerializer("test-secret-key").loads_unsafe(signed_of(path))[1]
    assert payload["o"] == "org_1" and payload["p"] == "bamboohr"
    assert not any("token" in str(v) for v in payload.values())
    assert len(api.calls) == 0


def test_onboarding_link_outside_a_request_needs_a_server_name_or_base_url(app):
    with app.app_context(), pytest.raises(ConfigurationError, match="SERVER_NAME"):
        onboarding_link(ACME)
    with app.app_context():
        url = onboarding_link(ACME, base_url="https://app.example.com/portal")
    assert url.startswith("https://app.example.com/portal/stackone/link/")
    named = build_app(SERVER_NAME="app.example.com", PREFERRED_URL_SCHEME="https")
    with named.app_context():
        assert onboarding_link(ACME).startswith("https://app.example.com/stackone/link/")


def test_onboarding_link_refuses_bad_options(app):
    with app.app_context(), pytest.raises(InvalidOptionError):
        onboarding_link(ACME, provider="Not A Key", base_url="https://a.example")
    with app.app_context(), pytest.raises(InvalidOptionError):
        onboarding_link(ACME, max_age=91 * 86400, base_url="https://a.example")
    with app.app_context(), pytest.raises(TypeError):
        onboarding_link("org_1", base_url="https://a.example")  # type: ignore[arg-type]


def test_onboarding_link_needs_a_secret_key():
    app = build_app(SECRET_KEY=None)
    with app.test_request_context(), pytest.raises(ConfigurationError, match="SECRET_KEY"):
        onboarding_link(ACME)


# -- links from a background job (RQ, Celery, a cron command) ----------------------------------


def _create_app(**config):
    """The host's app factory, as a worker calls it: no request will ever come."""
    return build_app(**config)


def invitation_job(**config):
    """An RQ-style job: a plain function that builds the app and pushes a fresh app context."""
    with _create_app(**config).app_context():
        return onboarding_link(ACME, provider="bamboohr"), create_auth_link(ACME)


def test_a_job_builds_both_links_with_the_public_url(api):
    expect_session(api, expires_in=432000)
    before = datetime.now(timezone.utc)
    link, auth_link = invitation_job(STACKONE_PUBLIC_URL="https://app.example.com")
    assert link.startswith("https://app.example.com/stackone/link/")
    assert isinstance(link, str) and link.url == link and type(link.url) is str
    assert before + timedelta(days=5) - timedelta(seconds=1) <= link.expires_at
    assert link.expires_at <= before + timedelta(days=5, seconds=2)
    assert link.expires_in == 432000 and link.link_id
    assert auth_link.url == LINK_URL and auth_link.expires_in == 432000
    payload = URLSafeSerializer("test-secret-key").loads_unsafe(signed_of(link))[1]
    assert payload["e"] == int(link.expires_at.timestamp()) and payload["i"] == link.link_id


def test_a_job_gets_one_clear_error_without_a_public_url(api):
    with pytest.raises(ConfigurationError) as caught:
        invitation_job()
    message = str(caught.value)
    assert "outside a request" in message
    assert "STACKONE_PUBLIC_URL" in message and "SERVER_NAME" in message
    assert "TRUSTED_HOSTS" not in message  # a job has no Host header to trust


def test_an_onboarding_link_is_a_string_that_keeps_its_expiry_through_pickling(api):
    import pickle

    expect_session(api, expires_in=432000)
    link = invitation_job(STACKONE_PUBLIC_URL="https://app.example.com")[0]
    assert f"<a href='{link}'>" == f"<a href='{link.url}'>"
    assert link.url not in repr(link) and signed_of(link) not in repr(link)
    again = pickle.loads(pickle.dumps(link))  # noqa: S301 - a job result travels pickled
    assert again == link and again.expires_at == link.expires_at
    assert again.link_id == link.link_id and again.expires_in == link.expires_in


# -- the page: GET has no side effect -------------------------------------------------------------


def test_get_shows_a_page_with_a_post_button_and_calls_nothing(api, app, client):
    path = link_path(app, provider="bamboohr")
    seen = []
    with connect_session_created.connected_to(lambda sender, event: seen.append(event), app):
        for method in (client.get, client.head):
            response = method(path)
            assert response.status_code == 200
    page = client.get(path).get_data(as_text=True)
    assert "Acme Ltd" in page and "bamboohr" in page
    assert f'<form method="post" action="{path}">' in page
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["Referrer-Policy"] == "same-origin"
    assert len(api.calls) == 0 and seen == []


def test_post_redirects_to_a_fresh_stackone_link_in_redirect_mode(api):
    app = build_app(STACKONE_ONBOARDING_MODE="redirect")
    path = link_path(app, provider="bamboohr")
    expect_session(api, provider="bamboohr", expires_in=1800)
    response = app.test_client().post(path)
    assert response.status_code == 303
    assert response.headers["Location"] == LINK_URL


def test_post_shows_the_hub_fed_by_the_links_own_token_route_in_hub_mode(api):
    app = build_app(STACKONE_HUB_SCRIPT_URL="https://cdn.example/hub/webcomponent.js")
    path = link_path(app, provider="bamboohr")
    response = app.test_client().post(path)
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert f'data-token-url="{path}/session"' in page
    assert 'data-confirm="false"' in page
    assert "data-stackone-hub" in page and "hub-token-xyz" not in page
    assert len(api.calls) == 0  # the session is created when the page asks for its token


def test_the_session_route_answers_a_token_for_the_links_owner(api, app, client):
    path = link_path(app, categories=["hris"])
    expect_session(api, categories=["hris"], expires_in=1800)
    response = client.post(path + "/session", headers=JSON_HEADERS)
    assert response.status_code == 200
    data = response.get_json()
    assert set(data) == {"token", "expires_in", "expires_at"}
    assert data["token"] == "hub-token-xyz" and data["expires_in"] == 1800
    assert response.headers["Cache-Control"] == "no-store"


def test_the_session_route_needs_the_request_header_and_post(api, app, client):
    path = link_path(app)
    response = client.post(path + "/session")
    assert response.status_code == 403
    assert response.get_json()["error"] == "missing_request_header"
    assert client.get(path + "/session").status_code == 405
    assert len(api.calls) == 0


# -- bad links: friendly pages, never a 500 ----------------------------------------------------


def tampered(path: str) -> list[str]:
    signed = signed_of(path)
    payload, signature = signed.rsplit(".", 1)
    forged = URLSafeSerializer("guessed-key", salt=auth_links_module.SALT + ":stackone").dumps(
        {"v": 1, "o": "org_2", "n": "Evil", "e": 2**40}
    )
    flipped = ("A" if signature[0] != "A" else "B") + signature[1:]
    return [
        f"{payload}.{flipped}",
        f"{payload[:-2]}.{signature}",
        forged,
        payload,
        signed + "x",
    ]


def test_tampered_links_get_a_friendly_400_page(api, app, client):
    path = link_path(app)
    prefix = path.rsplit("/", 1)[0]
    for bad in tampered(path):
        for response in (client.get(f"{prefix}/{bad}"), client.post(f"{prefix}/{bad}")):
            assert response.status_code == 400
            assert "This link is not valid" in response.get_data(as_text=True)
            assert response.mimetype == "text/html"
        answer = client.post(f"{prefix}/{bad}/session", headers=JSON_HEADERS)
        assert answer.status_code == 400 and answer.get_json()["error"] == "invalid_link"
    assert len(api.calls) == 0


def test_a_link_signed_for_another_blueprint_instance_is_refused(app):
    other = make_blueprint("stackone_eu", url_prefix="/eu", config_prefix="STACKONE_EU_")
    app.register_blueprint(other)
    with app.test_request_context():
        url = onboarding_link(ACME, blueprint="stackone_eu")
    assert url.startswith("http://localhost/eu/link/")
    client = app.test_client()
    assert client.get(url.removeprefix("http://localhost")).status_code == 200
    assert client.get("/stackone/link/" + signed_of(url)).status_code == 400


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.text(alphabet=string.ascii_letters + string.digits + "-_.~%", min_size=1, max_size=300))
def test_any_malformed_value_is_a_400_never_a_500(app, value):
    response = app.test_client().get(f"/stackone/link/{value}")
    assert response.status_code == 400


@pytest.mark.parametrize("ahead", [91 * 86400 + 86401, 10**20])
def test_a_signed_expiry_further_ahead_than_any_link_can_have_is_refused(api, app, client, ahead):
    serializer = URLSafeSerializer("test-secret-key", salt=auth_links_module.SALT + ":stackone")
    expires = int(auth_links_module._now()) + ahead
    signed = serializer.dumps({"v": 1, "o": "org_1", "n": "Acme", "e": expires})
    assert client.get(f"/stackone/link/{signed}").status_code == 400
    ok = serializer.dumps({"v": 1, "o": "org_1", "n": "Acme", "e": expires - ahead + 90 * 86400})
    assert client.get(f"/stackone/link/{ok}").status_code == 200


def test_an_overlong_value_is_refused_before_checking(client):
    assert client.get("/stackone/link/" + "a" * 5000).status_code == 400


def test_expired_links_get_410_and_max_age_is_per_link(api, app, client, monkeypatch):
    short = link_path(app, max_age=60)
    long = link_path(app, max_age=timedelta(hours=1))
    now = auth_links_module._now()
    monkeypatch.setattr(auth_links_module, "_now", lambda: now + 59)
    assert client.get(short).status_code == 200
    monkeypatch.setattr(auth_links_module, "_now", lambda: now + 61)
    for response in (client.get(short), client.post(short)):
        assert response.status_code == 410
        assert "This link has expired" in response.get_data(as_text=True)
    answer = client.post(short + "/session", headers=JSON_HEADERS)
    assert answer.status_code == 410 and answer.get_json()["error"] == "link_expired"
    assert client.get(long).status_code == 200
    assert len(api.calls) == 0


def test_default_max_age_is_the_setting(monkeypatch):
    app = build_app(STACKONE_ONBOARDING_MAX_AGE=600)
    path = link_path(app)
    now = auth_links_module._now()
    monkeypatch.setattr(auth_links_module, "_now", lambda: now + 601)
    assert app.test_client().get(path).status_code == 410


# -- key rotation ------------------------------------------------------------------------------


def test_links_survive_a_secret_key_rotation_through_fallbacks(app, client):
    old_path = link_path(app)
    app.config.update(SECRET_KEY="rotated-key", SECRET_KEY_FALLBACKS=["test-secret-key"])
    assert client.get(old_path).status_code == 200
    new_path = link_path(app)
    app.config.update(SECRET_KEY_FALLBACKS=[])
    assert client.get(old_path).status_code == 400
    assert client.get(new_path).status_code == 200
    app.config.update(SECRET_KEY="test-secret-key", SECRET_KEY_FALLBACKS=["rotated-key"])
    assert client.get(new_path).status_code == 200  # signed with the key then current


# -- cross-site posting ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": "https://evil.example"},
        {"Origin": "null"},
        {"Sec-Fetch-Site": "cross-site", "Origin": "http://localhost"},
        {"Sec-Fetch-Site": "same-site"},
    ],
)
def test_a_post_from_another_site_is_refused(api, headers):
    app = build_app(STACKONE_ONBOARDING_MODE="redirect")
    response = app.test_client().post(link_path(app), headers=headers)
    assert response.status_code == 403
    assert "Open the link from your email again" in response.get_data(as_text=True)
    assert len(api.calls) == 0


@pytest.mark.parametrize(
    "headers",
    [{"Origin": "http://localhost"}, {"Sec-Fetch-Site": "same-origin"}, {"Sec-Fetch-Site": "none"}],
)
def test_a_post_from_the_page_itself_is_accepted(api, headers):
    app = build_app(STACKONE_ONBOARDING_MODE="redirect")
    expect_session(api, expires_in=1800)
    assert app.test_client().post(link_path(app), headers=headers).status_code == 303


def test_csrfprotect_is_honoured_by_the_form(api):
    app = build_app(STACKONE_ONBOARDING_MODE="redirect")
    CSRFProtect(app)
    client = app.test_client()
    path = link_path(app)
    page = client.get(path).get_data(as_text=True)
    token = page.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
    assert client.post(path).status_code == 400  # Flask-WTF refuses without its token
    expect_session(api, expires_in=1800)
    assert client.post(path, data={"csrf_token": token}).status_code == 303


def test_csrfprotect_token_reaches_the_hub_glue_in_hub_mode(api):
    app = build_app(STACKONE_HUB_SCRIPT_URL="https://cdn.example/hub/webcomponent.js")
    CSRFProtect(app)
    client = app.test_client()
    path = link_path(app)
    form_token = client.get(path).get_data(as_text=True).split('name="csrf_token" value="')[1]
    page = client.post(path, data={"csrf_token": form_token.split('"')[0]})
    assert page.status_code == 200
    meta = page.get_data(as_text=True).split('<meta name="csrf-token" content="', 1)[1]
    headers = {**JSON_HEADERS, "X-CSRFToken": meta.split('"', 1)[0]}
    assert client.post(path + "/session", headers=JSON_HEADERS).status_code == 400
    expect_session(api, expires_in=1800)
    assert client.post(path + "/session", headers=headers).status_code == 200


# -- owner matching, allow-lists, failures ------------------------------------------------------


@pytest.mark.parametrize(
    ("signed_in", "status"),
    [(None, 401), (Owner("org_2", "Globex"), 403), (Owner("org_1", "Acme Ltd"), 200)],
)
def test_require_owner_checks_the_signed_in_owner(api, signed_in, status):
    app = build_app(owner=signed_in, STACKONE_ONBOARDING_REQUIRE_OWNER=True)
    client = app.test_client()
    path = link_path(app)
    assert client.get(path).status_code == status
    if status != 200:
        answer = client.post(path + "/session", headers=JSON_HEADERS)
        assert answer.status_code == status
    assert len(api.calls) == 0


def test_require_owner_off_lets_anyone_with_the_link_connect(api):
    app = build_app(owner=None, STACKONE_ONBOARDING_MODE="redirect")
    expect_session(api, expires_in=1800)
    assert app.test_client().post(link_path(app)).status_code == 303


def test_a_provider_removed_from_the_allow_list_since_sending_is_refused(api):
    sender = build_app()
    path = link_path(sender, provider="bamboohr")
    now_app = build_app(STACKONE_PROVIDERS=["hibob"], STACKONE_ONBOARDING_MODE="redirect")
    response = now_app.test_client().post(path)
    assert response.status_code == 400
    assert "no longer offered" in response.get_data(as_text=True)
    assert len(api.calls) == 0


@pytest.mark.parametrize(("status", "shown"), [(500, 502), (401, 502), (503, 502)])
def test_stackone_failure_on_connect_is_a_friendly_page(api, status, shown):
    app = build_app(STACKONE_ONBOARDING_MODE="redirect")
    api.post(f"{API}/connect_sessions", status=status, json={"statusCode": status, "message": "x"})
    response = app.test_client().post(link_path(app))
    assert response.status_code == shown
    assert "did not answer" in response.get_data(as_text=True)


def test_session_route_maps_stackone_failures_like_the_token_route(api, app, client):
    api.post(f"{API}/connect_sessions", status=401, json={"statusCode": 401, "message": "bad"})
    response = client.post(link_path(app) + "/session", headers=JSON_HEADERS)
    assert response.status_code == 502
    assert response.get_json()["error"] == "stackone_auth_failed"


def test_without_an_api_key_the_page_shows_and_connect_says_unavailable(api):
    app = build_app(STACKONE_API_KEY=None, STACKONE_ONBOARDING_MODE="redirect")
    client = app.test_client()
    path = link_path(app)
    assert client.get(path).status_code == 200
    response = client.post(path)
    assert response.status_code == 503
    assert "not available" in response.get_data(as_text=True)
    answer = client.post(path + "/session", headers=JSON_HEADERS)
    assert answer.status_code == 503 and answer.get_json()["error"] == "not_configured"


def test_a_link_on_an_app_without_secret_key_is_a_503_page(app):
    path = link_path(app)
    app.config["SECRET_KEY"] = None
    response = app.test_client().get(path)
    assert response.status_code == 503


# -- the page speaks the connector's name and carries the host's brand ------------------------


def test_the_page_names_the_connector_as_people_know_it(api):
    app = build_app(
        STACKONE_HUB_SCRIPT_URL="https://cdn.example/hub/webcomponent.js",
        STACKONE_PROVIDER_NAMES={"acme_hr": "ACME HR Cloud"},
    )
    client = app.test_client()
    page = client.get(link_path(app, provider="bamboohr")).get_data(as_text=True)
    assert "<h1>Connect your BambooHR account</h1>" in page
    assert "<title>Connect BambooHR for Acme Ltd</title>" in page
    assert "your bamboohr account" not in page
    hub = client.post(link_path(app, provider="bamboohr")).get_data(as_text=True)
    assert "<h1>Connect BambooHR for Acme Ltd</h1>" in hub
    named = client.get(link_path(app, provider="acme_hr")).get_data(as_text=True)
    assert "<h1>Connect your ACME HR Cloud account</h1>" in named
    unknown = client.get(link_path(app, provider="people_hub")).get_data(as_text=True)
    assert "<h1>Connect your People Hub account</h1>" in unknown
    anything = client.get(link_path(app)).get_data(as_text=True)
    assert "<h1>Connect an account</h1>" in anything and "data-provider" not in anything


def test_the_host_puts_its_name_and_logo_on_every_onboarding_page(api):
    app = build_app(
        STACKONE_HUB_SCRIPT_URL="https://cdn.example/hub/webcomponent.js",
        STACKONE_BRAND_NAME="Acme People",
        STACKONE_BRAND_LOGO_URL="/static/acme-mark.svg",
    )
    client = app.test_client()
    path = link_path(app, provider="hibob")
    pages = {
        "connect": client.get(path),
        "hub": client.post(path),
        "invalid": client.get(path[:-3] + "xyz"),
    }
    assert [r.status_code for r in pages.values()] == [200, 200, 400]
    for name, response in pages.items():
        html = response.get_data(as_text=True)
        assert '<link rel="icon" href="/static/acme-mark.svg">' in html, name
        assert '<img src="/static/acme-mark.svg" alt="Acme People">' in html, name
        assert "<span>Acme People</span>" in html, name
        assert "· Acme People</title>" in html, name
    assert "to <strong>Acme Ltd</strong> in Acme People." in pages["connect"].get_data(as_text=True)


def test_without_a_brand_the_page_has_no_brand_header_and_no_icon_link(app, client):
    html = client.get(link_path(app)).get_data(as_text=True)
    assert 'class="brand"' not in html and 'rel="icon"' not in html
    assert "<title>Connect an account for Acme Ltd</title>" in html


def test_brand_values_are_escaped():
    app = build_app(
        STACKONE_BRAND_NAME='<script>alert(1)</script> & "Co"',
        STACKONE_PROVIDER_NAMES={"evil": "<img src=x onerror=alert(2)>"},
    )
    html = app.test_client().get(link_path(app, provider="evil")).get_data(as_text=True)
    assert "<script>alert(1)" not in html and "<img src=x" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; &#34;Co&#34;" in html


@pytest.mark.parametrize(
    ("setting", "value"),
    [
        ("STACKONE_BRAND_LOGO_URL", "javascript:alert(1)"),
        ("STACKONE_BRAND_LOGO_URL", "//evil.example/logo.png"),
        ("STACKONE_BRAND_LOGO_URL", '/logo.svg" onerror="alert(1)'),
        ("STACKONE_BRAND_LOGO_URL", 5),
        ("STACKONE_BRAND_NAME", "x" * 101),
        ("STACKONE_BRAND_NAME", ["Acme"]),
        ("STACKONE_PROVIDER_NAMES", ["bamboohr"]),
        ("STACKONE_PROVIDER_NAMES", {"Bamboo HR": "BambooHR"}),
        ("STACKONE_PROVIDER_NAMES", {"bamboohr": ""}),
        ("STACKONE_PROVIDER_NAMES", {"bamboohr": 5}),
    ],
)
def test_bad_brand_settings_are_refused_at_registration_naming_the_setting(setting, value):
    with pytest.raises(ConfigurationError, match=setting):
        build_app(**{setting: value})


def test_brand_settings_accept_urls_paths_and_env_json(monkeypatch):
    monkeypatch.setenv("FLASK_STACKONE_PROVIDER_NAMES", '{"acme_hr": "ACME HR"}')
    monkeypatch.setenv("FLASK_STACKONE_BRAND_LOGO_URL", "https://cdn.example/acme.png")
    from flask import Flask

    from flask_stackone import get_state

    app = Flask("branded")
    app.config.from_prefixed_env()
    app.register_blueprint(make_blueprint())
    settings = get_state(app).settings
    assert dict(settings.provider_names or {}) == {"acme_hr": "ACME HR"}
    assert settings.brand_logo_url == "https://cdn.example/acme.png"
    assert app.config["STACKONE_PROVIDER_NAMES"] == {"acme_hr": "ACME HR"}


# -- framing: another site must not show the onboarding pages in a frame -----------------------


def _refuses_framing(response) -> bool:
    policies = response.headers.getlist("Content-Security-Policy")
    return response.headers.get("X-Frame-Options") == "DENY" and any(
        "frame-ancestors 'none'" in policy for policy in policies
    )


def test_every_html_page_of_an_onboarding_link_refuses_to_be_framed(api, monkeypatch):
    """A page on another site framed a link made for the attacker's organisation: the click
    inside the frame posted as same-origin and the victim's account went to the attacker."""
    app = build_app(STACKONE_HUB_SCRIPT_URL="https://cdn.example/hub/webcomponent.js")
    CSRFProtect(app)
    client = app.test_client()
    path = link_path(app, provider="bamboohr")
    page = client.get(path)
    token = page.get_data(as_text=True).split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
    answers = {
        "the link's page": page,
        "the Hub after Connect": client.post(path, data={"csrf_token": token}),
        "a tampered link": client.get(path[:-3] + "xyz"),
        "a cross-site post": client.post(
            path, data={"csrf_token": token}, headers={"Sec-Fetch-Site": "cross-site"}
        ),
        "a post without the CSRF token": client.post(path),
    }
    monkeypatch.setattr(auth_links_module, "_now", lambda: 2**40)
    answers["an expired link"] = client.get(path)
    statuses = {name: r.status_code for name, r in answers.items()}
    assert statuses == {
        "the link's page": 200,
        "the Hub after Connect": 200,
        "a tampered link": 400,
        "a cross-site post": 403,
        "a post without the CSRF token": 400,
        "an expired link": 410,
    }
    for name, response in answers.items():
        assert response.mimetype == "text/html", name
        assert _refuses_framing(response), f"{name} can be framed"
    assert len(api.calls) == 0


def test_a_page_of_the_host_keeps_its_own_framing_policy(app):
    @app.get("/embeddable")
    def embeddable():
        return "<p>framed on purpose</p>"

    response = app.test_client().get("/embeddable")
    assert "X-Frame-Options" not in response.headers
    assert "Content-Security-Policy" not in response.headers


# -- where an emailed link points: never at an unchecked Host header ---------------------------


def _invite_app(**config):
    """A host app whose signed-in member asks for an onboarding link by POST, as an invite
    form does; the link would go into an email."""
    app = build_app(**config)

    @app.post("/invite")
    def invite():
        return onboarding_link(ACME, provider="bamboohr")

    return app


def test_a_link_made_in_a_request_does_not_point_at_the_hosts_header(api):
    """A member who posted the invite form with ``Host: attacker.example`` got a genuine link
    to that host in the platform's email."""
    app = _invite_app()
    with (
        app.test_request_context(headers={"Host": "attacker.example"}),
        pytest.raises(ConfigurationError) as info,
    ):
        onboarding_link(ACME, provider="bamboohr")
    message = str(info.value)
    assert "STACKONE_PUBLIC_URL" in message and "SERVER_NAME" in message
    assert "TRUSTED_HOSTS" in message and "attacker.example" not in message


@pytest.mark.parametrize(
    ("config", "root"),
    [
        ({"STACKONE_PUBLIC_URL": "https://app.example.com"}, "https://app.example.com"),
        ({"STACKONE_PUBLIC_URL": "https://app.example.com/"}, "https://app.example.com"),
        ({"STACKONE_PUBLIC_URL": "https://example.com/portal"}, "https://example.com/portal"),
        (
            {"SERVER_NAME": "app.example.com", "PREFERRED_URL_SCHEME": "https"},
            "https://app.example.com",
        ),
        (
            {"SERVER_NAME": "app.example.com:8443", "APPLICATION_ROOT": "/people"},
            "http://app.example.com:8443/people",
        ),
    ],
)
def test_the_configured_public_url_is_used_whatever_the_host_header(api, config, root):
    app = _invite_app(**config)
    for host in ("attacker.example", "localhost"):
        with warnings.catch_warnings():  # Werkzeug 2.3 warns of a host other than SERVER_NAME
            warnings.filterwarnings("ignore", "Current server name", UserWarning)
            with app.test_request_context(headers={"Host": host}):
                url = onboarding_link(ACME, provider="bamboohr")
        assert url.startswith(root + "/stackone/link/"), (host, url)
    with app.app_context():  # a CLI command or a job: the same root
        assert onboarding_link(ACME).startswith(root + "/stackone/link/")


def test_the_public_url_beats_server_name_and_base_url_beats_both(api):
    app = _invite_app(STACKONE_PUBLIC_URL="https://public.example", SERVER_NAME="internal:8000")
    with app.app_context():
        assert onboarding_link(ACME).startswith("https://public.example/stackone/link/")
        url = onboarding_link(ACME, base_url="https://other.example")
        assert url.startswith("https://other.example/stackone/link/")


def test_with_trusted_hosts_the_request_host_is_used_once_flask_checked_it(api):
    app = _invite_app(TRUSTED_HOSTS=["app.example.com", ".people.example"])
    client = app.test_client()
    answer = client.post("/invite", headers={"Host": "eu.people.example"})
    assert answer.status_code == 200
    assert answer.get_data(as_text=True).startswith("http://eu.people.example/stackone/link/")
    refused = client.post("/invite", headers={"Host": "attacker.example"})
    assert refused.status_code == 400
    assert "/stackone/link/" not in refused.get_data(as_text=True)


def test_on_loopback_hosts_the_request_host_is_used_for_development(api):
    app = _invite_app()
    for host, root in [
        ("localhost", "http://localhost"),
        ("127.0.0.1:5000", "http://127.0.0.1:5000"),
    ]:
        with app.test_request_context(headers={"Host": host}):
            assert onboarding_link(ACME).startswith(root + "/stackone/link/")
    for host in ("localhost.attacker.example", "127.0.0.1.attacker.example", "attacker.localhost"):
        with app.test_request_context(headers={"Host": host}), pytest.raises(ConfigurationError):
            onboarding_link(ACME)


@pytest.mark.parametrize(
    "value",
    ["app.example.com", "ftp://app.example.com", "https://app.example.com\n", "https://",
     "https://app.example.com/?next=x", "https://app.example.com/#x", 42],
)  # fmt: skip
def test_a_bad_public_url_is_refused_at_registration(value):
    with pytest.raises(ConfigurationError, match="STACKONE_PUBLIC_URL"):
        build_app(STACKONE_PUBLIC_URL=value)


def test_an_untrusted_host_is_a_400_error_when_making_a_link(api):
    from werkzeug.exceptions import BadRequest

    app = _invite_app(TRUSTED_HOSTS=["app.example.com"])
    with (
        app.test_request_context(headers={"Host": "attacker.example"}),
        pytest.raises(BadRequest),  # werkzeug's SecurityError: never a link
    ):
        onboarding_link(ACME)


# -- withdrawing one link before it expires ----------------------------------------------------


def test_each_link_has_an_id_and_the_host_can_refuse_one_before_it_expires(api):
    """A link lived up to 90 days and the only way to revoke one was rotating SECRET_KEY."""
    withdrawn: set[str] = set()
    seen: list = []

    def link_is_valid(grant) -> bool:
        seen.append(grant)
        return grant.link_id not in withdrawn

    app = build_app(
        STACKONE_ONBOARDING_MODE="redirect", STACKONE_ONBOARDING_LINK_CHECK=link_is_valid
    )

    kept = link_path(app, provider="bamboohr")
    revoked = link_path(app, provider="bamboohr", link_id="invite-17")
    client = app.test_client()
    assert client.get(revoked).status_code == 200
    assert seen[-1].link_id == "invite-17" and seen[-1].owner == ACME
    assert seen[-1].issued_at is not None
    withdrawn.add("invite-17")

    sessions = []
    with connect_session_created.connected_to(lambda sender, event: sessions.append(event), app):
        page = client.get(revoked)
        connect = client.post(revoked)
        token = client.post(revoked + "/session", headers=JSON_HEADERS)
    assert page.status_code == connect.status_code == 410
    assert "This link was withdrawn" in page.get_data(as_text=True)
    assert token.status_code == 410 and token.get_json()["error"] == "link_revoked"
    assert sessions == [] and len(api.calls) == 0

    assert client.get(kept).status_code == 200  # another link of the same owner still works
    assert len({g.link_id for g in seen}) == 2 and all(g.link_id for g in seen)


def test_links_get_distinct_random_ids_and_a_given_id_is_checked(app):
    with app.test_request_context():
        first, second = (onboarding_link(ACME) for _ in range(2))
        with pytest.raises(InvalidOptionError, match="link_id"):
            onboarding_link(ACME, link_id="not an id\n")
        with pytest.raises(InvalidOptionError, match="link_id"):
            onboarding_link(ACME, link_id="x" * 65)
        state = get_state(app)
        ids = {
            auth_links_module.read_onboarding_link(state, signed_of(u)).link_id
            for u in (first, second)
        }
    assert len(ids) == 2 and all(len(i) >= 16 for i in ids)


def test_an_async_link_check_works_too(api):
    async def refuse_all(grant) -> bool:
        return False

    app = build_app(STACKONE_ONBOARDING_LINK_CHECK=refuse_all)
    assert app.test_client().get(link_path(app)).status_code == 410


def test_a_link_check_that_is_not_a_function_is_refused_at_registration():
    with pytest.raises(ConfigurationError, match="STACKONE_ONBOARDING_LINK_CHECK"):
        build_app(STACKONE_ONBOARDING_LINK_CHECK="example_app.outbox:check")
