"""``{{ stackone_hub() }}``: what the macro writes into a page (widget.py, templates)."""

from __future__ import annotations

import gzip
import json
import logging
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
import responses
from flask import Flask, render_template_string

from flask_stackone.core.hub_script import HUB_VERSION, PINS
from flask_stackone.widget.assets import STATIC, package_file_url

from .conftest import API_KEY, build_app

SRI = PINS[HUB_VERSION].integrity
CDN = "https://cdn.example.test/npm/@stackone/hub@1.11.4/dist/webcomponent.js"


class Elements(HTMLParser):
    """Every start tag of a page as ``(tag, attributes)``, attribute values unescaped."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.found: list[tuple[str, dict[str, str | None]]] = []
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.found.append((tag, dict(attrs)))

    def widgets(self) -> list[dict[str, str | None]]:
        return [a for t, a in self.found if "data-stackone-hub" in a]

    def scripts(self) -> list[dict[str, str | None]]:
        return [a for t, a in self.found if t == "script"]


@pytest.fixture
def app(installed: Path) -> Flask:
    return build_app(STACKONE_HUB_DIR=str(installed))


def render(app: Flask, source: str, **context: object) -> str:
    with app.test_request_context("/integrations"):
        return render_template_string(source, **context)


def test_the_global_renders_a_placeholder_and_the_glue_only(app: Flask) -> None:
    html = render(app, "{{ stackone_hub() }}")
    page = Elements(html)
    [widget] = page.widgets()
    assert widget["id"] == "stackone-hub"
    assert widget["data-token-url"] == "/stackone/connect-session"
    assert widget["data-confirm-url"] == "/stackone/accounts/ACCOUNT_ID/confirm"
    assert widget["data-confirm"] == "true"
    assert widget["data-hub-src"] == f"/stackone/hub/{HUB_VERSION}/webcomponent.js"
    assert widget["data-hub-integrity"] == SRI
    assert widget["data-height"] == "500px"
    assert json.loads(widget["data-options"] or "") == {}
    # The Hub script is not loaded by the page: the glue injects it when the widget shows.
    [glue] = page.scripts()
    assert re.fullmatch(r"/stackone/glue/[0-9a-f]{16}/hub\.js", glue["src"] or "")
    assert "defer" in glue
    assert "Loading the StackOne Hub" in html


def test_every_option_reaches_the_placeholder(app: Flask) -> None:
    html = render(
        app,
        """{{ stackone_hub(provider="bamboohr", categories=["hris", "ats"], account_id="acc_9",
            height=640, theme="dark", redirect_to="/done", lazy=true, button_label="Link HR",
            nonce="n0nce", id="hr-widget", token_url="/custom/token", confirm=false) }}""",
    )
    page = Elements(html)
    [widget] = page.widgets()
    assert json.loads(widget["data-options"] or "") == {
        "provider": "bamboohr",
        "categories": ["hris", "ats"],
        "account_id": "acc_9",
    }
    assert widget["id"] == "hr-widget"
    assert widget["data-account-id"] == "acc_9"
    assert widget["data-height"] == "640px"
    assert widget["data-theme"] == "dark"
    assert widget["data-redirect-to"] == "/done"
    assert widget["data-lazy"] == "true"
    assert widget["data-token-url"] == "/custom/token"
    assert widget["data-confirm"] == "false"
    [button] = [a for t, a in page.found if t == "button"]
    assert "data-stackone-open" in button
    assert ">Link HR</button>" in html
    [glue] = page.scripts()
    assert glue["nonce"] == "n0nce"


def test_a_theme_object_is_passed_as_json(app: Flask) -> None:
    theme = {"colors": {"primary": '#"<>&'}}
    [widget] = Elements(render(app, "{{ stackone_hub(theme=theme) }}", theme=theme)).widgets()
    assert json.loads(widget["data-theme"] or "") == theme


def test_hostile_values_are_escaped(app: Flask) -> None:
    evil = """x"' onmouseover="alert(1)" ><script>alert(2)</script><img src=x onerror=alert(3)>"""
    html = render(
        app,
        """{{ stackone_hub(provider=evil, categories=[evil], account_id=evil, id=evil,
            redirect_to=evil, button_label=evil, lazy=true, nonce=evil, token_url=evil) }}""",
        evil=evil,
    )
    page = Elements(html)
    assert "<script>alert(2)" not in html
    assert "<img" not in html
    assert all("onmouseover" not in attrs and "onerror" not in attrs for _, attrs in page.found)
    [widget] = page.widgets()
    # The values arrive intact, as data: the server refuses them at the token route.
    assert json.loads(widget["data-options"] or "") == {
        "provider": evil,
        "categories": [evil],
        "account_id": evil,
    }
    for attribute in ("id", "data-account-id", "data-redirect-to", "data-token-url"):
        assert widget[attribute] == evil
    assert page.scripts()[0]["nonce"] == evil
    assert [t for t, _ in page.found].count("script") == 1


def test_several_widgets_on_one_page_get_distinct_ids(app: Flask) -> None:
    page = Elements(
        render(app, '{{ stackone_hub() }}{{ stackone_hub(provider="hibob") }}{{ stackone_hub() }}')
    )
    assert [w["id"] for w in page.widgets()] == ["stackone-hub", "stackone-hub-2", "stackone-hub-3"]


def test_the_macro_import_renders_what_the_global_renders(app: Flask) -> None:
    with app.test_request_context("/"):
        imported = render_template_string(
            '{% from "stackone/hub.html" import stackone_hub %}'
            '{{ stackone_hub(provider="bamboohr", lazy=true, id="w") }}'
        )
        direct = render_template_string(
            '{{ stackone_hub(provider="bamboohr", lazy=true, id="w") }}'
        )
    assert imported.strip() == direct.strip()
    assert Elements(imported).widgets()


def test_rendering_never_calls_stackone_nor_writes_a_token_or_the_key(app: Flask) -> None:
    @app.route("/integrations")
    def integrations() -> str:
        return render_template_string("<main>{{ stackone_hub(account_id='acc_1') }}</main>")

    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        page = app.test_client().get("/integrations")  # any StackOne call would fail here
        assert len(mock.calls) == 0
    html = page.get_data(as_text=True)
    assert API_KEY not in html
    assert " token=" not in html
    assert "<stackone-hub" not in html  # the glue creates the element once it has a token


def test_cdn_mode_uses_the_url_with_the_pinned_sri(tmp_path: Path) -> None:
    app = build_app(STACKONE_HUB_DIR=str(tmp_path / "none"), STACKONE_HUB_SCRIPT_URL=CDN)
    [widget] = Elements(render(app, "{{ stackone_hub() }}")).widgets()
    assert widget["data-hub-src"] == CDN
    assert widget["data-hub-integrity"] == SRI


def test_cdn_url_must_be_https(tmp_path: Path) -> None:
    from flask_stackone import ConfigurationError

    with pytest.raises(ConfigurationError, match="STACKONE_HUB_SCRIPT_URL must be an https URL"):
        build_app(STACKONE_HUB_SCRIPT_URL="http://cdn.example.test/hub.js")


def test_without_script_a_readable_message_names_both_fixes(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    app = build_app(STACKONE_HUB_DIR=str(tmp_path / "none"))
    html = render(app, "{{ stackone_hub() }}")
    page = Elements(html)
    assert page.widgets() == []
    assert page.scripts() == []
    assert "its script is not installed" in html
    assert "flask stackone hub install" in html
    assert "STACKONE_HUB_SCRIPT_URL" in html
    assert 'role="alert"' in html
    assert any("flask stackone hub install" in r.getMessage() for r in caplog.records)
    assert all(r.levelno <= logging.WARNING for r in caplog.records)


def test_a_page_without_the_macro_gets_nothing(app: Flask) -> None:
    html = render(app, "<p>{{ 1 + 1 }}</p>")
    assert "stackone" not in html


@pytest.mark.parametrize(
    ("options", "error"),
    [
        ({"height": "100px; background: red"}, ValueError),
        ({"theme": "neon"}, ValueError),
        ({"lazy": "yes"}, TypeError),
        ({"confirm": 0}, TypeError),
        ({"provider": 42}, TypeError),
        ({"categories": [1, 2]}, TypeError),
        ({"blueprint": 42}, TypeError),
    ],
)
def test_a_wrong_option_is_a_clear_template_error(app: Flask, options: dict, error: type) -> None:
    with app.test_request_context("/"), pytest.raises(error, match=r"stackone_hub\("):
        render_template_string("{{ stackone_hub(**options) }}", options=options)


def test_the_global_is_registered_when_the_blueprint_is(app: Flask) -> None:
    assert callable(app.jinja_env.globals["stackone_hub"])
    assert "stackone_hub" not in Flask("bare").jinja_env.globals


def test_the_glue_is_served_immutable_under_its_digest_and_gzipped(app: Flask) -> None:
    [glue] = Elements(render(app, "{{ stackone_hub() }}")).scripts()
    client = app.test_client()
    response = client.get(glue["src"], headers={"Accept-Encoding": "gzip"})
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    assert response.headers["Content-Encoding"] == "gzip"
    source = gzip.decompress(response.data).decode()
    assert "X-StackOne-Request" in source
    assert "stackone:linked" in source
    again = client.get(glue["src"], headers={"If-None-Match": response.headers["ETag"]})
    assert again.status_code == 304
    stale = client.get("/stackone/glue/0123456789abcdef/hub.js")  # a page from before an upgrade
    assert stale.status_code == 200
    assert stale.headers["Cache-Control"] == "no-cache"
    assert stale.data.decode() == source


# -- a second blueprint instance ----------------------------------------------------------------

EU_API = "https://api.eu1.stackone.com"
EU_CDN = "https://cdn.example.test/eu/@stackone/hub@1.11.4/dist/webcomponent.js"


@pytest.fixture
def two(app: Flask) -> Flask:
    """``app`` with a second instance, ``stackone_eu``: its own prefix, API and Hub script."""
    from flask_stackone import Owner, make_blueprint

    app.config.update(
        STACKONE_EU_API_KEY="eu-api-key-not-secret-in-tests",
        STACKONE_EU_WEBHOOK_SECRET="eu-webhook-secret-for-tests",
        STACKONE_EU_API_URL=EU_API,
        STACKONE_EU_HUB_SCRIPT_URL=EU_CDN,
    )
    eu = make_blueprint("stackone_eu", url_prefix="/eu", config_prefix="STACKONE_EU_")
    eu.owner_loader(lambda: Owner("org_eu", "Acme GmbH"))
    app.register_blueprint(eu)
    return app


def assert_eu_widget(widget: dict[str, str | None], glue: dict[str, str | None]) -> None:
    assert widget["data-confirm-url"] == "/eu/accounts/ACCOUNT_ID/confirm"
    assert widget["data-base-url"] == EU_API  # the EU token is spent on the EU API
    assert widget["data-hub-src"] == EU_CDN
    assert widget["data-hub-integrity"] == SRI
    assert re.fullmatch(r"/eu/glue/[0-9a-f]{16}/hub\.js", glue["src"] or "")


def test_the_blueprint_option_renders_for_that_instance(two: Flask) -> None:
    page = Elements(render(two, '{{ stackone_hub() }}{{ stackone_hub(blueprint="stackone_eu") }}'))
    default, eu = page.widgets()
    assert default["data-token-url"] == "/stackone/connect-session"
    assert default["data-confirm-url"] == "/stackone/accounts/ACCOUNT_ID/confirm"
    assert default["data-hub-src"] == f"/stackone/hub/{HUB_VERSION}/webcomponent.js"
    assert "data-base-url" not in default
    assert eu["data-token-url"] == "/eu/connect-session"
    assert_eu_widget(eu, page.scripts()[1])


def test_the_macro_passes_the_blueprint_option(two: Flask) -> None:
    with two.test_request_context("/"):
        imported = render_template_string(
            '{% from "stackone/hub.html" import stackone_hub %}'
            '{{ stackone_hub(blueprint="stackone_eu", id="w") }}'
        )
        direct = render_template_string('{{ stackone_hub(blueprint="stackone_eu", id="w") }}')
    assert imported.strip() == direct.strip()
    assert Elements(imported).widgets()[0]["data-token-url"] == "/eu/connect-session"


@pytest.mark.parametrize("name", ["stackone_us", "", "stackone.eu"])
def test_an_unknown_blueprint_is_a_clear_template_error(two: Flask, name: str) -> None:
    with (
        two.test_request_context("/"),
        pytest.raises(ValueError, match=r"stackone_hub\(blueprint=.*registered: stackone, "),
    ):
        render_template_string("{{ stackone_hub(blueprint=name) }}", name=name)


def test_the_eu_onboarding_page_renders_the_eu_hub(two: Flask) -> None:
    from flask_stackone import Owner, onboarding_link

    with two.test_request_context():
        link = onboarding_link(Owner("org_eu", "Acme GmbH"), blueprint="stackone_eu")
    path = link.removeprefix("http://localhost")
    assert path.startswith("/eu/link/")
    with responses.RequestsMock() as mock:  # showing the page calls no API
        response = two.test_client().post(path)
        assert len(mock.calls) == 0
    assert response.status_code == 200
    page = Elements(response.get_data(as_text=True))
    [widget] = page.widgets()
    assert widget["data-token-url"] == f"{path}/session"
    assert widget["data-confirm"] == "false"
    assert_eu_widget(widget, page.scripts()[0])


# -- the glue cache -----------------------------------------------------------------------------


def test_concurrent_first_renders_never_lose_the_cached_glue(
    app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two first renders at once: one stores the glue, the other clears the cache to store
    its own copy. Both must get the script, whatever the order of their steps."""
    import threading

    from flask_stackone.widget.assets import GLUE_SCRIPT

    [glue] = Elements(render(app, "{{ stackone_hub() }}")).scripts()
    served = app.test_client().get(glue["src"]).data  # the script as the route serves it
    clearing, checked, stored, cleared, looked = (threading.Event() for _ in range(5))

    class Interleaving(dict):
        """Forces the worst order: both renders miss, the first stores, the second clears,
        the first reads back (each wait gives up after 0.5 s when the order cannot happen)."""

        def __contains__(self, key: object) -> bool:
            if clearing.is_set():
                checked.set()
            return super().__contains__(key)

        def clear(self) -> None:
            if not clearing.is_set():
                clearing.set()
                checked.wait(0.5)
                super().clear()
            else:
                stored.wait(0.5)
                super().clear()
                cleared.set()
                looked.wait(0.5)

        def __setitem__(self, key: object, value: object) -> None:
            super().__setitem__(key, value)
            if not stored.is_set():
                stored.set()
                cleared.wait(0.5)

        def __getitem__(self, key: object) -> object:
            try:
                return super().__getitem__(key)
            finally:
                looked.set()

    monkeypatch.setattr(GLUE_SCRIPT.cache, "_entries", Interleaving())
    results: list[object] = []

    def first_render() -> None:
        try:
            results.append(GLUE_SCRIPT.asset().data)
        except Exception as exc:  # the failure under test: keep it to compare
            results.append(exc)

    threads = [threading.Thread(target=first_render) for _ in range(2)]
    threads[0].start()
    assert clearing.wait(2)
    threads[1].start()
    for thread in threads:
        thread.join(5)
    assert results == [served] * 2


def test_multiple_reaches_the_token_route_options_only_when_true(app: Flask) -> None:
    html = render(
        app,
        """{{ stackone_hub(provider="bamboohr", multiple=true, id="a") }}
           {{ stackone_hub(provider="bamboohr", multiple=false, id="b") }}""",
    )
    first, second = Elements(html).widgets()
    assert json.loads(first["data-options"] or "") == {"provider": "bamboohr", "multiple": True}
    assert json.loads(second["data-options"] or "") == {"provider": "bamboohr"}
    imported = render(
        app,
        '{% from "stackone/hub.html" import stackone_hub as hub %}'
        '{{ hub(provider="bamboohr", multiple=true) }}',
    )
    [widget] = Elements(imported).widgets()
    assert json.loads(widget["data-options"] or "") == {"provider": "bamboohr", "multiple": True}


@pytest.mark.parametrize(
    ("source", "error"),
    [
        ('{{ stackone_hub(multiple="yes") }}', TypeError),
        ('{{ stackone_hub(multiple=true, account_id="acc_1") }}', ValueError),
    ],
)
def test_a_bad_multiple_is_a_template_error(app: Flask, source: str, error: type) -> None:
    with pytest.raises(error, match="multiple"):
        render(app, source)


def test_the_glue_has_one_url_and_shares_its_request_code_with_the_panel(app: Flask) -> None:
    [glue] = Elements(render(app, "{{ stackone_hub() }}")).scripts()
    client = app.test_client()
    digest = glue["src"].split("/")[3]  # type: ignore[union-attr]
    assert client.get(f"/stackone/assets/{digest}/hub.js").status_code == 404
    with app.test_request_context():
        panel_script = client.get(package_file_url("stackone", "accounts.js")).data
    common = (STATIC / "common.js").read_bytes()
    for served in (client.get(glue["src"]).data, panel_script):
        assert served.startswith(common)  # then the script's own code
        assert served.count(b"class RequestError") == 1


def test_with_csrfprotect_the_widget_carries_the_token_and_without_it_nothing(installed):
    from flask_wtf.csrf import CSRFProtect, generate_csrf

    page = "{{ stackone_hub() }}{{ stackone_accounts(server_render=false) }}"
    plain = build_app(STACKONE_HUB_DIR=str(installed))
    with plain.test_request_context():
        assert "data-stackone-csrf-token" not in render_template_string(page)
    guarded = build_app(STACKONE_HUB_DIR=str(installed))
    CSRFProtect(guarded)
    with guarded.test_request_context():
        html = render_template_string(page)
        assert html.count(f'data-stackone-csrf-token="{generate_csrf()}"') == 2
