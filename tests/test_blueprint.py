"""Registration: settings precedence, per-app state, several apps and instances, CSRF."""

from __future__ import annotations

import pytest
from flask import Flask
from flask_wtf.csrf import CSRFProtect
from responses import matchers

from flask_stackone import (
    ConfigurationError,
    Owner,
    get_client,
    get_state,
    make_blueprint,
    stackone_bp,
)
from flask_stackone.config import read_settings
from flask_stackone.testing import make_event, post_event

from .conftest import API, API_KEY, WEBHOOK_SECRET, GuardedClient, build_app

HEADERS = {"X-StackOne-Request": "1"}
SESSION = {"id": 1, "token": "t", "organization_id": "o", "project_id": "p"}


def test_defaults_are_set_with_setdefault_and_explicit_config_kept():
    app = build_app(STACKONE_TIMEOUT=3)
    assert app.config["STACKONE_TIMEOUT"] == 3
    assert app.config["STACKONE_SESSION_EXPIRES_IN"] == 1800
    assert app.config["STACKONE_API_URL"] == "https://api.stackone.com"


def test_explicit_argument_beats_config_beats_default():
    app = Flask("precedence")
    app.config.update(STACKONE_API_KEY="from-config", STACKONE_TIMEOUT=4)
    bp = make_blueprint(api_key="from-argument")
    app.register_blueprint(bp)
    settings = get_state(app).settings
    assert settings.api_key == "from-argument"
    assert settings.timeout == 4.0
    assert settings.max_retries == 2


def test_unknown_option_is_a_type_error():
    with pytest.raises(TypeError, match="api_kee"):
        make_blueprint(api_kee="x")


def test_from_prefixed_env_works(monkeypatch):
    monkeypatch.setenv("FLASK_STACKONE_WEBHOOK_SECRET", '["old", "new"]')
    monkeypatch.setenv("FLASK_STACKONE_TIMEOUT", "2.5")
    monkeypatch.setenv("FLASK_STACKONE_PROVIDERS", '["bamboohr", "hibob"]')
    app = Flask("env")
    app.config.from_prefixed_env()
    app.register_blueprint(make_blueprint())
    settings = get_state(app).settings
    assert settings.webhook_secret == ("old", "new")
    assert settings.timeout == 2.5
    assert settings.providers == {"bamboohr", "hibob"}


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("STACKONE_TIMEOUT", "soon"),
        ("STACKONE_TIMEOUT", 0),
        ("STACKONE_SESSION_EXPIRES_IN", -5),
        ("STACKONE_WEBHOOK_SECRET", ["ok", 5]),
        ("STACKONE_PROVIDERS", ["Bad Name"]),
        ("STACKONE_API_URL", "http://api.example.test"),
        ("STACKONE_API_KEY", "   "),
        ("STACKONE_DELIVERY_STORE", 42),
    ],
)
def test_bad_settings_are_refused_at_registration_naming_the_key(key, value):
    with pytest.raises(ConfigurationError, match=key) as info:
        build_app(**{key: value})
    assert API_KEY not in str(info.value)


@pytest.mark.parametrize(
    "secret",
    [
        "   ",  # a secret of spaces: a body signed with it was accepted
        "\t\n",
        "",
        123,  # what JSON-typed env parsing makes of FLASK_STACKONE_WEBHOOK_SECRET=123
        12.5,
        True,
        b"whsec_bytes",
        {"whsec_a": "whsec_b"},  # was read as its keys
        ["whsec_ok", 5],
        ["whsec_ok", ""],
        ["whsec_ok", "  "],
        ("whsec_ok", None),
        [["whsec_nested"]],
    ],
)
def test_a_weak_or_mistyped_webhook_secret_is_refused_at_registration(secret):
    with pytest.raises(ConfigurationError, match="STACKONE_WEBHOOK_SECRET") as info:
        build_app(STACKONE_WEBHOOK_SECRET=secret)
    assert "TypeError" not in repr(info.value)


def test_a_secret_set_from_the_environment_as_a_number_names_the_setting(monkeypatch):
    monkeypatch.setenv("FLASK_STACKONE_WEBHOOK_SECRET", "123456")
    app = Flask("env_number")
    app.config.from_prefixed_env()
    assert app.config["STACKONE_WEBHOOK_SECRET"] == 123456
    with pytest.raises(ConfigurationError, match=r"STACKONE_WEBHOOK_SECRET.*string"):
        app.register_blueprint(make_blueprint())


@pytest.mark.parametrize("secret", [None, [], "whsec_one", ["whsec_old", "whsec_new"]])
def test_good_webhook_secrets_are_kept(secret):
    settings = read_settings({"STACKONE_WEBHOOK_SECRET": secret})
    expected = (secret,) if isinstance(secret, str) else tuple(secret or ())
    assert settings.webhook_secret == expected


def test_settings_repr_hides_secrets():
    settings = read_settings(
        {"STACKONE_API_KEY": API_KEY, "STACKONE_WEBHOOK_SECRET": WEBHOOK_SECRET}
    )
    assert API_KEY not in repr(settings) and WEBHOOK_SECRET not in repr(settings)


def test_one_blueprint_object_keeps_several_apps_apart(api):
    bp = make_blueprint()
    owners = {"a": Owner("org_a", "A"), "b": Owner("org_b", "B")}
    apps = {}
    for name, key in (("a", "sk_key_a"), ("b", "sk_key_b")):
        app = Flask(f"app_{name}")
        app.test_client_class = GuardedClient
        app.config.update(
            STACKONE_API_KEY=key, STACKONE_SESSION_EXPIRES_IN=100 if name == "a" else 200
        )
        app.extensions["owner"] = owners[name]
        app.register_blueprint(bp)
        apps[name] = app

    from flask import current_app

    bp.owner_loader(lambda: current_app.extensions["owner"])
    for name, key, expires in (("a", "sk_key_a", 100), ("b", "sk_key_b", 200)):
        api.post(
            f"{API}/connect_sessions",
            status=201,
            json=SESSION,
            match=[
                matchers.json_params_matcher(
                    {
                        "origin_owner_id": f"org_{name}",
                        "origin_owner_name": name.upper(),
                        "expires_in": expires,
                    }
                )
            ],
        )
        response = apps[name].test_client().post("/stackone/connect-session", headers=HEADERS)
        assert response.get_json()["expires_in"] == expires
        import base64

        sent = api.calls[-1].request.headers["Authorization"]
        assert base64.b64decode(sent.split()[1]).decode() == f"{key}:"
    assert get_client(apps["a"]) is not get_client(apps["b"])


def test_a_second_instance_with_its_own_prefix_and_config():
    app = build_app()
    app.config["STACKONE_EU_API_KEY"] = "sk_eu"
    eu = make_blueprint("stackone_eu", url_prefix="/stackone-eu", config_prefix="STACKONE_EU_")
    app.register_blueprint(eu)
    assert get_state(app, "stackone_eu").settings.api_key == "sk_eu"
    assert get_state(app).settings.api_key == API_KEY
    assert "/stackone-eu/webhooks" in {r.rule for r in app.url_map.iter_rules()}


def test_unregistered_blueprint_is_a_clear_error():
    with pytest.raises(RuntimeError, match="register_blueprint"):
        get_state(Flask("bare"))


def test_the_module_level_blueprint_is_a_stackone_blueprint():
    assert stackone_bp.url_prefix == "/stackone" and stackone_bp.name == "stackone"


# -- Flask-WTF -------------------------------------------------------------------------------


@pytest.mark.parametrize("csrf_first", [True, False])
def test_only_the_webhook_is_exempt_from_csrf(csrf_first):
    app = Flask("csrf_app")
    app.config.update(
        SECRET_KEY="x", STACKONE_API_KEY=API_KEY, STACKONE_WEBHOOK_SECRET=WEBHOOK_SECRET
    )
    bp = make_blueprint()
    bp.owner_loader(lambda: Owner("org_1", "Acme"))
    if csrf_first:
        CSRFProtect(app)
        app.register_blueprint(bp)
    else:
        app.register_blueprint(bp)
        CSRFProtect(app)
    client = app.test_client()
    assert post_event(client, make_event("account.created")).status_code == 200
    refused = client.post("/stackone/connect-session", headers=HEADERS)
    assert refused.status_code == 400
    assert refused.get_json() == {"error": "csrf_failed", "message": "The CSRF token is missing."}


def test_the_webhook_is_exempt_from_a_csrf_check_the_host_runs_in_its_own_hook():
    """Flask-WTF's documented pattern: no check by default, the host's own hook calls
    ``csrf.protect()``; a host hook registered before the blueprint runs before any hook of
    the plugin's, on the webhook's very first delivery too."""
    csrf = CSRFProtect()
    app = Flask("own_check_app")
    app.config.update(
        SECRET_KEY="x",
        WTF_CSRF_CHECK_DEFAULT=False,
        STACKONE_API_KEY=API_KEY,
        STACKONE_WEBHOOK_SECRET=WEBHOOK_SECRET,
    )
    app.before_request(lambda: csrf.protect(apply_exemptions=True))
    bp = make_blueprint()
    bp.owner_loader(lambda: Owner("org_1", "Acme"))
    app.register_blueprint(bp)
    csrf.init_app(app)
    client = app.test_client()
    statuses = [post_event(client, make_event("account.created")).status_code for _ in "ab"]
    assert statuses == [200, 200]
    refused = client.post("/stackone/connect-session", headers=HEADERS)
    assert refused.status_code == 400
    assert refused.get_json()["error"] == "csrf_failed"


def test_token_route_accepts_flask_wtf_token_header(api):
    from flask_wtf.csrf import generate_csrf

    app = build_app()
    CSRFProtect(app)

    @app.get("/token")
    def token():
        return generate_csrf()

    api.post(f"{API}/connect_sessions", status=201, json=SESSION)
    client = app.test_client()
    csrf = client.get("/token").get_data(as_text=True)
    response = client.post("/stackone/connect-session", headers={**HEADERS, "X-CSRFToken": csrf})
    assert response.status_code == 200


def test_one_blueprint_registered_under_two_names_has_state_for_both():
    app = build_app()
    bp = app.blueprints["stackone"]
    app.register_blueprint(bp, name="second", url_prefix="/second")
    assert get_state(app, "second").settings.api_key == API_KEY
    assert (
        post_event(app.test_client(), make_event("account.created"), blueprint="second").status_code
        == 200
    )


def test_a_nested_blueprint_is_found_by_its_own_name():
    from flask import Blueprint

    app = Flask("nested")
    app.config.update(STACKONE_API_KEY=API_KEY)
    parent = Blueprint("parent", __name__, url_prefix="/parent")
    parent.register_blueprint(make_blueprint())
    app.register_blueprint(parent)
    assert get_state(app, "parent.stackone") is get_state(app, "stackone")
    result = app.test_cli_runner().invoke(args=["parent.stackone", "hub", "status"])
    assert result.exit_code == 0, result.output
    assert "@stackone/hub" in result.output


def test_a_second_instance_names_its_own_settings_in_errors():
    app = Flask("eu")
    app.config["STACKONE_EU_API_URL"] = "http://api.eu.example.test"
    with pytest.raises(ConfigurationError, match="STACKONE_EU_API_URL"):
        app.register_blueprint(make_blueprint("eu", config_prefix="STACKONE_EU_"))


# -- a missing owner loader names the blueprint the app registered -----------------------------


def _no_loader_message(blueprint) -> str:
    app = Flask("no_loader")
    app.config.update(STACKONE_API_KEY=API_KEY, STACKONE_WEBHOOK_SECRET=WEBHOOK_SECRET)
    app.register_blueprint(blueprint)
    prefix = blueprint.url_prefix
    response = app.test_client().post(f"{prefix}/connect-session", headers=HEADERS)
    assert response.status_code == 503
    assert response.get_json()["error"] == "not_configured"
    return response.get_json()["message"]


def test_missing_owner_loader_of_stackone_bp_names_its_decorator(monkeypatch):
    monkeypatch.setattr(stackone_bp, "owner_loader_func", None)
    assert _no_loader_message(stackone_bp) == (
        "no owner loader for the StackOne blueprint 'stackone': decorate the function that "
        "returns the signed-in Owner with @stackone_bp.owner_loader"
    )


def test_missing_owner_loader_of_a_made_blueprint_names_that_blueprint():
    message = _no_loader_message(make_blueprint("hr_links", url_prefix="/hr-links"))
    assert message == (
        "no owner loader for the StackOne blueprint 'hr_links': decorate the function that "
        "returns the signed-in Owner with @bp.owner_loader, where bp = make_blueprint('hr_links')"
    )
    assert "stackone_bp" not in message


# -- settings set after registration -----------------------------------------------------------


def test_settings_read_from_the_environment_after_registration_fail_loudly(monkeypatch, caplog):
    """Registering first and then calling from_prefixed_env() left the key unread, and the
    token route said "STACKONE_API_KEY is not set" although app.config held it."""
    monkeypatch.setenv("FLASK_STACKONE_API_KEY", API_KEY)
    monkeypatch.setenv("FLASK_STACKONE_WEBHOOK_SECRET", WEBHOOK_SECRET)
    app = Flask("late")
    bp = make_blueprint()
    bp.owner_loader(lambda: Owner("org_1", "Acme"))
    app.register_blueprint(bp)
    app.config.from_prefixed_env()  # too late
    client = app.test_client()
    response = client.post("/stackone/connect-session", headers=HEADERS)
    assert response.status_code == 503
    message = response.get_json()["message"]
    assert "is not set" not in message
    assert "STACKONE_API_KEY" in message and "STACKONE_WEBHOOK_SECRET" in message
    assert "register_blueprint" in message and "before" in message
    webhook = post_event(client, make_event("account.created"), secret=WEBHOOK_SECRET)
    assert webhook.status_code == 503 and "register_blueprint" in webhook.get_json()["message"]


def test_a_setting_changed_after_registration_is_named_on_the_first_request(caplog):
    app = build_app()
    app.config.update(STACKONE_TIMEOUT=1.0, STACKONE_PROVIDERS=["bamboohr"])

    @app.get("/")
    def home():
        return "home"

    client = app.test_client()
    assert client.get("/").status_code == 200  # the host's own pages keep working...
    logged = [r.getMessage() for r in caplog.records if r.levelname == "ERROR"]
    assert any("STACKONE_PROVIDERS" in m and "STACKONE_TIMEOUT" in m for m in logged), logged
    answer = client.post("/stackone/connect-session", headers=HEADERS)  # ...the plugin's do not
    assert answer.status_code == 503 and "STACKONE_PROVIDERS" in answer.get_json()["message"]


def test_a_list_setting_changed_in_place_after_registration_is_seen():
    providers = ["bamboohr"]
    app = build_app(STACKONE_PROVIDERS=providers)
    app.config["STACKONE_PROVIDERS"].append("hibob")
    answer = app.test_client().post("/stackone/connect-session", headers=HEADERS)
    assert answer.status_code == 503 and "STACKONE_PROVIDERS" in answer.get_json()["message"]


def test_settings_left_as_registration_read_them_pass(api):
    app = build_app()
    app.config.update(SECRET_KEY="rotated", SOMETHING_ELSE=1)  # not a STACKONE_ setting
    api.post(f"{API}/connect_sessions", status=201, json={**SESSION, "token": "t1"})
    assert app.test_client().post("/stackone/connect-session", headers=HEADERS).status_code == 200


def test_a_late_value_beaten_by_an_explicit_argument_is_no_error(api):
    app = Flask("explicit")
    app.config.update(SECRET_KEY="x")
    bp = make_blueprint(api_key=API_KEY, webhook_secret=WEBHOOK_SECRET)
    app.register_blueprint(bp)
    app.config["STACKONE_API_KEY"] = "ignored: the argument wins"
    response = post_event(app.test_client(), make_event("account.created"))
    assert response.status_code == 200


@pytest.mark.parametrize("value", ["y", "enabled", "True.", "2"])
def test_require_owner_typo_is_refused_not_silently_off(tmp_path, value):
    """A security switch: a value that is neither on nor off is refused, never read as off."""
    from flask_stackone import errors

    with pytest.raises(errors.ConfigurationError):
        build_app(instance_path=str(tmp_path), STACKONE_ONBOARDING_REQUIRE_OWNER=value)


def test_the_host_s_own_requests_run_no_hook_of_the_plugin():
    """The checks run on the blueprint's own requests; the app-wide one runs on the first
    request only and takes itself off."""
    app = build_app()
    CSRFProtect(app)  # after registration: found on the blueprint's own requests

    @app.get("/")
    def home():
        return "home"

    def plugin_hooks() -> list[str]:
        hooks = [
            *app.before_request_funcs.get(None, []),
            *app.url_value_preprocessors.get(None, []),
        ]
        return [f.__qualname__ for f in hooks if f.__module__.startswith("flask_stackone")]

    assert len(plugin_hooks()) == 1
    client = app.test_client()
    assert client.get("/").status_code == 200
    assert plugin_hooks() == []
    assert post_event(client, make_event("account.created")).status_code == 200  # exempt
