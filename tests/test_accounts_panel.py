"""``{{ stackone_accounts() }}``: what the macro writes into a page (accounts_panel.py, the
template) and the panel's static files."""

from __future__ import annotations

import gzip
import json
import threading
from pathlib import Path
from typing import Any

import pytest
import requests
import responses
from flask import Flask, render_template_string
from responses import matchers

from flask_stackone import InvalidOptionError, Owner, make_blueprint
from flask_stackone.accounts_panel import status_label
from flask_stackone.core.cache import TimedValue
from flask_stackone.core.connectors import monogram
from flask_stackone.core.hub_script import HUB_VERSION, PINS

from .conftest import API, API_KEY, build_app
from .test_accounts_routes import CONNECTORS, account
from .test_widget import Elements


@pytest.fixture
def app(installed: Path) -> Flask:
    return build_app(STACKONE_HUB_DIR=str(installed))


def render(app: Flask, source: str = "{{ stackone_accounts(**options) }}", **options: Any) -> str:
    with app.test_request_context("/integrations"):
        return render_template_string(source, options=options)


def expect_accounts(api: responses.RequestsMock, items: list[dict[str, Any]], **query: str) -> None:
    params = {"origin_owner_id": "org_1", "page_size": "25", "page": "1", **query}
    api.get(
        f"{API}/accounts",
        json=items,
        match=[matchers.query_param_matcher(params, strict_match=True)],
    )


def panel_of(html: str) -> dict[str, str | None]:
    [panel] = [a for t, a in Elements(html).found if "data-stackone-accounts" in a]
    return panel


def buttons(html: str) -> list[str]:
    return [a["data-stackone-action"] or "" for t, a in Elements(html).found if t == "button"]


def test_the_list_is_rendered_on_the_server(api, app: Flask) -> None:
    reason = {"code": "permissions", "description": "Missing scope employees:read"}
    expect_accounts(
        api,
        [
            account("acc_2", provider="hibob", status="error", status_reasons=[reason]),
            account("acc_1"),
        ],
    )
    api.get(f"{API}/connectors/meta", json=CONNECTORS)
    html = render(app)
    page = Elements(html)
    rows = [a for t, a in page.found if t == "li" and "data-account-id" in a]
    assert [(r["data-account-id"], r["data-status"], r["data-name"]) for r in rows] == [
        ("acc_1", "active", "BambooHR"),
        ("acc_2", "error", "HiBob"),
    ]
    assert html.count("This account needs attention.") == 1
    assert "Missing scope employees:read <code>permissions</code>" in html
    assert '<time datetime="2026-11-24T10:00:00Z">24 Nov 2026, 10:00 UTC</time>' in html
    assert '<time datetime="2026-11-25T08:30:00Z">25 Nov 2026, 08:30 UTC</time>' in html
    [logo] = [a for t, a in page.found if t == "img"]  # HiBob's logo is plain http: left out
    assert logo["src"] == "https://stackone-logos.com/api/bamboohr/filled/png"
    assert logo["alt"] == ""
    assert buttons(html) == [
        "add",
        "reconnect",
        "disconnect",
        "reconnect",
        "disconnect",
        "add",
        "close",
    ]
    labels = [a.get("aria-label") for t, a in page.found if t == "button" and a.get("aria-label")]
    assert labels == [
        "Re-connect BambooHR", "Disconnect BambooHR", "Re-connect HiBob", "Disconnect HiBob"
    ]  # fmt: skip
    assert 'role="status" aria-live="polite"' in html
    assert "onclick" not in html and "onerror" not in html and "style=" not in html
    assert API_KEY not in html and "hub-token" not in html and "subdomain" not in html


def test_the_list_route_answers_the_panels_own_rows_to_its_script(api, app: Flask) -> None:
    """One row template: what the script asks for is what the page was rendered with."""
    reason = {"code": "permissions", "description": "Missing scope employees:read"}
    items = [
        account("acc_2", provider="hibob", status="error", status_reasons=[reason], label="UK"),
        account("acc_1"),
    ]
    expect_accounts(api, items)
    api.get(f"{API}/connectors/meta", json=CONNECTORS)
    panel = render(app)
    client = app.test_client()
    asked = {"X-StackOne-Request": "1", "Accept": "text/html"}
    response = client.get(panel_of(panel)["data-list-url"] or "", headers=asked)
    assert response.status_code == 200
    assert response.mimetype == "text/html"
    assert response.headers["Cache-Control"] == "no-store"
    assert "Accept" in response.headers["Vary"]
    rows = response.get_data(as_text=True).strip()
    assert rows.startswith('<li class="stackone-account"') and rows.endswith("</li>")
    assert rows in panel
    fewer = panel_of(render(app, allow_reconnect=False, server_render=False))["data-list-url"]
    assert fewer == "/stackone/accounts?actions=disconnect"
    rows = client.get(fewer, headers=asked).get_data(as_text=True)
    assert buttons(rows) == ["disconnect", "disconnect"]
    json_answer = client.get("/stackone/accounts", headers={"X-StackOne-Request": "1"})
    assert [a["id"] for a in json_answer.get_json()["accounts"]] == ["acc_1", "acc_2"]


def test_the_panel_carries_what_its_script_needs(api, app: Flask) -> None:
    expect_accounts(api, [], providers="bamboohr")
    html = render(app, provider="bamboohr", categories=["hris"], height=600, theme="dark")
    panel = panel_of(html)
    assert panel["data-list-url"] == "/stackone/accounts?provider=bamboohr&categories=hris"
    assert panel["data-disconnect-url"] == "/stackone/accounts/ACCOUNT_ID/disconnect"
    assert json.loads(panel["data-add-options"] or "") == {
        "provider": "bamboohr",
        "categories": ["hris"],
    }
    hub = json.loads(panel["data-hub"] or "")
    assert hub["token_url"] == "/stackone/connect-session"
    assert hub["confirm_url"] == "/stackone/accounts/ACCOUNT_ID/confirm"
    assert hub["hub_src"] == f"/stackone/hub/{HUB_VERSION}/webcomponent.js"
    assert hub["integrity"] == PINS[HUB_VERSION].integrity
    assert (hub["height"], hub["theme"]) == ("600px", "dark")
    assert panel["data-actions"] == "reconnect disconnect"
    scripts = [a["src"] for a in Elements(html).scripts()]
    assert scripts[0].startswith("/stackone/glue/") and scripts[0].endswith("/hub.js")
    assert scripts[1].startswith("/stackone/assets/") and scripts[1].endswith("/accounts.js")


def test_the_empty_state_invites_the_first_link(api, app: Flask) -> None:
    expect_accounts(api, [])
    html = render(app, empty_text="Connect your HR system to start.", add_label="Connect one")
    assert "Connect your HR system to start." in html
    page = Elements(html)
    [empty] = [a for t, a in page.found if a.get("class") == "stackone-accounts-empty"]
    assert "hidden" not in empty
    [header_add] = [a for t, a in page.found if "stackone-accounts-add" in (a.get("class") or "")]
    assert "hidden" in header_add  # one Add button at a time: the empty state's
    assert "Connect one</button>" in html
    assert len(api.calls) == 1  # no connectors meta for an empty list


def test_options_turn_the_buttons_off_and_name_the_panel(api, app: Flask) -> None:
    expect_accounts(api, [account("acc_1")])
    api.get(f"{API}/connectors/meta", json=CONNECTORS)
    html = render(
        app,
        allow_add=False,
        allow_reconnect=False,
        allow_disconnect=False,
        title="HR systems",
        heading_level=3,
        id="hr",
        nonce="n0nce",
        stylesheet=False,
    )
    assert buttons(html) == []
    assert "<dialog" not in html
    assert '<h3 class="stackone-accounts-title" id="hr-title" tabindex="-1">HR systems</h3>' in html
    assert panel_of(html)["aria-labelledby"] == "hr-title"
    assert panel_of(html)["id"] == "hr"
    scripts = Elements(html).scripts()
    assert len(scripts) == 1  # no Hub glue without Re-connect or Add
    assert scripts[0]["nonce"] == "n0nce"
    assert "<link" not in html


def test_without_a_title_the_panel_keeps_an_accessible_name(api, app: Flask) -> None:
    expect_accounts(api, [])
    panel = panel_of(render(app, title=None))
    assert panel["aria-label"] == "Connected systems"


def test_several_panels_get_distinct_ids(app: Flask) -> None:
    html = render(
        app,
        "{{ stackone_accounts(server_render=false) }}{{ stackone_accounts(server_render=false) }}",
    )
    ids = [a["id"] for t, a in Elements(html).found if "data-stackone-accounts" in a]
    assert ids == ["stackone-accounts", "stackone-accounts-2"]


def test_server_render_off_asks_stackone_nothing(api, app: Flask) -> None:
    html = render(app, server_render=False)
    assert panel_of(html)["data-problem"] == "loading"
    assert "Loading your connected systems" in html
    assert len(api.calls) == 0


def test_hostile_values_are_escaped(api, app: Flask) -> None:
    evil = '"><script>alert(1)</script>'
    expect_accounts(
        api,
        [
            account(
                "acc_1",
                provider="evil",
                provider_name=evil,
                label=evil,
                status=evil,
                status_reasons=[{"code": evil, "description": evil}],
            )
        ],
    )
    api.get(
        f"{API}/connectors/meta",
        json=[{"provider": "evil", "provider_name": evil, "resources": {"images": {
            "logo_url": 'https://logos.example/x.png" onerror="alert(1)'}}}]
    )  # fmt: skip
    html = render(app, title=evil, empty_text=evil, add_label=evil)
    assert "<script>alert(1)" not in html
    assert 'onerror="alert' not in html
    assert "<img" not in html  # a logo URL with quotes is not used at all


def test_nobody_signed_in_shows_a_sentence_and_asks_stackone_nothing(api, installed) -> None:
    app = build_app(owner=None, STACKONE_HUB_DIR=str(installed))
    html = render(app)
    assert "Sign in to see your connected systems." in html
    assert buttons(html) == []
    assert len(api.calls) == 0


@pytest.mark.parametrize(
    ("answer", "text"),
    [
        ({"status": 500, "json": {"statusCode": 500, "message": "boom"}}, "could not be loaded"),
        ({"body": requests.exceptions.ConnectTimeout()}, "could not be loaded"),
    ],
)
def test_a_stackone_failure_still_renders_the_page(api, app: Flask, answer, text) -> None:
    api.get(f"{API}/accounts", **answer)
    html = render(app)
    assert text in html
    assert "retry" in buttons(html)
    assert panel_of(html)["data-problem"] == "unavailable"


def test_without_api_key_the_panel_says_so(api, installed) -> None:
    app = build_app(STACKONE_API_KEY=None, STACKONE_HUB_DIR=str(installed))
    html = render(app)
    assert "not set up on this server yet" in html
    assert len(api.calls) == 0


def test_without_the_hub_script_there_is_no_add_nor_reconnect(api, tmp_path: Path) -> None:
    app = build_app(STACKONE_HUB_DIR=str(tmp_path / "none"))
    expect_accounts(api, [account("acc_1")])
    api.get(f"{API}/connectors/meta", json=CONNECTORS)
    html = render(app)
    assert buttons(html) == ["disconnect"]
    assert "flask stackone hub install" in html


@pytest.mark.parametrize(
    ("options", "error", "match"),
    [
        ({"provider": 42}, TypeError, r"stackone_accounts\(provider="),
        ({"categories": [1]}, TypeError, r"stackone_accounts\(categories="),
        ({"allow_add": "no"}, TypeError, r"stackone_accounts\(allow_add="),
        ({"heading_level": 9}, ValueError, r"stackone_accounts\(heading_level="),
        ({"height": "1px;x"}, ValueError, r"stackone_accounts\(height="),
        ({"blueprint": "nope"}, ValueError, r"stackone_accounts\(blueprint='nope'\)"),
        ({"provider": "Not A Key"}, InvalidOptionError, "provider must be a connector key"),
        ({"categories": ["hrs"]}, InvalidOptionError, "category not offered"),
    ],
)
def test_a_wrong_option_is_a_clear_template_error(app: Flask, options, error, match) -> None:
    with pytest.raises(error, match=match):
        render(app, **options)


def test_the_macro_import_renders_what_the_global_renders(app: Flask) -> None:
    imported = render(
        app,
        '{% from "stackone/accounts.html" import stackone_accounts %}'
        '{{ stackone_accounts(server_render=false, id="p", provider="hibob") }}',
    )
    direct = render(app, '{{ stackone_accounts(server_render=false, id="p", provider="hibob") }}')
    assert imported.strip() == direct.strip()


def test_the_blueprint_option_picks_another_instance(api, app: Flask) -> None:
    eu = make_blueprint("stackone_eu", url_prefix="/eu", config_prefix="STACKONE_EU_")
    eu.owner_loader(lambda: Owner("org_eu", "Acme GmbH"))
    app.config.update(
        STACKONE_EU_API_KEY=API_KEY, STACKONE_EU_HUB_DIR=app.config["STACKONE_HUB_DIR"]
    )
    app.register_blueprint(eu)
    html = render(app, blueprint="stackone_eu", server_render=False)
    panel = panel_of(html)
    assert panel["data-list-url"] == "/eu/accounts"
    assert json.loads(panel["data-hub"] or "")["token_url"] == "/eu/connect-session"


def test_the_global_is_registered_when_the_blueprint_is(app: Flask) -> None:
    assert callable(app.jinja_env.globals["stackone_accounts"])
    assert "stackone_accounts" not in Flask("bare").jinja_env.globals


# -- the static files -------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "mimetype"), [("accounts.js", "text/javascript"),
                                               ("accounts.css", "text/css")])  # fmt: skip
def test_the_panels_files_are_served_immutable_under_their_digest(
    app: Flask, name: str, mimetype: str
) -> None:
    html = render(app, server_render=False)
    [src] = [
        a.get("src") or a.get("href")
        for t, a in Elements(html).found
        if (a.get("src") or a.get("href") or "").endswith(name)
    ]
    client = app.test_client()
    response = client.get(src, headers={"Accept-Encoding": "gzip"})
    assert response.status_code == 200
    assert response.mimetype == mimetype
    assert response.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    body = gzip.decompress(response.data).decode()
    assert "stackone" in body
    again = client.get(src, headers={"If-None-Match": response.headers["ETag"]})
    assert again.status_code == 304
    stale = client.get(f"/stackone/assets/0123456789abcdef/{name}")
    assert (stale.status_code, stale.headers["Cache-Control"]) == (200, "no-cache")


def test_only_the_packages_own_files_are_served(app: Flask) -> None:
    client = app.test_client()
    for name in ("app.py", "..%2F__init__.py", "secret.txt", "hub.html"):
        assert client.get(f"/stackone/assets/abc/{name}").status_code == 404


# -- helpers ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "letters"),
    [("BambooHR", "Ba"), ("HiBob", "Hi"), ("SAP SuccessFactors", "SS"), ("x", "X"), ("", "?"),
     ("Microsoft-Entra ID", "ME"), ("ÖBB Personal", "ÖP")],
)  # fmt: skip
def test_monogram(name: str, letters: str) -> None:
    assert monogram(name) == letters


def test_status_label() -> None:
    assert [status_label(s) for s in ("active", "error", "needs_review", None)] == [
        "Active",
        "Error",
        "Needs review",
        "Unknown",
    ]


def test_timed_value_loads_once_for_concurrent_readers_and_remembers_failures() -> None:
    now = [0.0]
    calls: list[int] = []
    gate = threading.Event()

    def slow_load() -> int:
        calls.append(1)
        gate.wait(2)
        return 42

    cache: TimedValue[int] = TimedValue(10, 3, clock=lambda: now[0])
    results: list[int] = []
    threads = [
        threading.Thread(target=lambda: results.append(cache.get(slow_load, lambda e: -1)))
        for _ in range(4)
    ]
    for thread in threads:
        thread.start()
    gate.set()
    for thread in threads:
        thread.join(5)
    assert (results, len(calls)) == ([42] * 4, 1)

    now[0] = 11  # expired: loaded again, and this time it fails

    def failing() -> int:
        raise RuntimeError("down")

    assert cache.get(failing, lambda exc: -1) == -1
    now[0] = 13
    assert cache.get(lambda: 7, lambda exc: -1) == -1  # the failure is kept for 3 s
    now[0] = 14.5
    assert cache.get(lambda: 7, lambda exc: -1) == 7
