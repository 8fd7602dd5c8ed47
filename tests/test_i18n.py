"""The package's language (flask_stackone/i18n.py and its catalogues): every message a person
sees is in the catalogue of each language, and the panel, the widget, the onboarding pages and
the error pages follow Flask-Babel's locale, ``STACKONE_LOCALE`` and ``STACKONE_MESSAGES``."""

from __future__ import annotations

import gettext
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from flask import Flask, render_template_string, request

from flask_stackone import ConfigurationError, Owner, onboarding_link
from flask_stackone.i18n import DOMAIN, TRANSLATIONS
from flask_stackone.widget.messages import GLUE_MESSAGES, PANEL_MESSAGES

from .conftest import API, build_app
from .test_accounts_panel import expect_accounts, panel_of
from .test_accounts_routes import CONNECTORS, account

babel_messages = pytest.importorskip("babel.messages.pofile")
flask_babel = pytest.importorskip("flask_babel")

ROOT = Path(__file__).resolve().parent.parent
LANGUAGES = ["de", "fr", "es", "nl"]
STATIC = ROOT / "flask_stackone" / "static" / "stackone"
ACME = Owner("org_1", "Acme Ltd", "ada@acme.test")
PLACEHOLDER = re.compile(r"%\((\w+)\)s")


def catalogue(language: str) -> Any:
    path = TRANSLATIONS / language / "LC_MESSAGES" / f"{DOMAIN}.po"
    with path.open("rb") as po:
        return babel_messages.read_po(po, locale=language)


def extracted(tmp_path: Path) -> list[str]:
    """Every message ``pybabel extract`` finds in the package, as the docs say to run it."""
    template = tmp_path / "flask_stackone.pot"
    command = "from babel.messages.frontend import main; main()"
    arguments = ["-q", "extract", "-F", "babel.cfg", "-o", str(template), "."]
    subprocess.run(  # noqa: S603 - our own interpreter, fixed arguments
        [sys.executable, "-c", command, *arguments], cwd=ROOT, check=True
    )
    with template.open("rb") as pot:
        return [message.id for message in babel_messages.read_po(pot) if message.id]


# -- the catalogues ---------------------------------------------------------------------------


def test_every_message_is_extracted_and_translated_in_every_language(tmp_path: Path) -> None:
    messages = extracted(tmp_path)
    assert len(messages) > 80
    # the script's tables, the panel, the widget, the onboarding pages, the error table
    for found in (
        "Yes, disconnect",
        "Connected systems",
        "JavaScript is needed to link an account.",
        "This link is not valid",
    ):
        assert found in messages
    for language in LANGUAGES:
        translated = catalogue(language)
        ids = [message.id for message in translated if message.id]
        assert sorted(set(messages) - set(ids)) == [], f"{language}: not in the catalogue"
        assert sorted(set(ids) - set(messages)) == [], f"{language}: no longer used"
        for message in translated:
            if not message.id:
                continue
            assert message.string, f"{language}: {message.id!r} is not translated"
            assert not message.fuzzy, f"{language}: {message.id!r} is fuzzy"
            assert set(PLACEHOLDER.findall(message.string)) == set(
                PLACEHOLDER.findall(message.id)
            ), f"{language}: {message.id!r} has other placeholders"


@pytest.mark.parametrize("language", LANGUAGES)
def test_each_compiled_catalogue_is_its_po_file(language: str) -> None:
    compiled = gettext.translation(DOMAIN, str(TRANSLATIONS), languages=[language])
    for message in catalogue(language):
        if message.id:
            assert compiled.gettext(message.id) == message.string, (
                f"{language}: the .mo file is older than the .po file (see the docs)"
            )


def test_every_message_the_scripts_ask_for_is_in_their_tables() -> None:
    asked = {
        "hub.js": GLUE_MESSAGES,
        "accounts.js": PANEL_MESSAGES,
    }
    for script, table in asked.items():
        source = (STATIC / script).read_text(encoding="utf-8")
        # text("key", ...) and text(condition ? "key" : "other", ...)
        calls = re.findall(r"\btext\((\s*[^(){}]*)", source)
        keys = {key for call in calls for key in re.findall(r"(?:^|[?:])\s*\"(\w+)\"", call)}
        assert keys, script
        assert sorted(keys - set(table)) == [], f"{script} asks for messages not in its table"


# -- Flask-Babel's locale ---------------------------------------------------------------------


def babel_app(installed: Path, **config: Any) -> Flask:
    app = build_app(STACKONE_HUB_DIR=str(installed), **config)
    flask_babel.Babel(
        app, locale_selector=lambda: request.accept_languages.best_match(["en", *LANGUAGES])
    )
    return app


def panel_page(app: Flask, language: str | None) -> str:
    headers = {"Accept-Language": language} if language else {}
    with app.test_request_context("/integrations", headers=headers):
        return render_template_string("{{ stackone_accounts() }}{{ stackone_hub(lazy=True) }}")


EXPECTED = {
    "de": ("Verbundene Systeme", "Aktiv", "Verbunden", "24. Nov. 2026, 10:00 UTC", "Trennen"),
    "fr": ("Systèmes connectés", "Actif", "Connecté", "24 nov. 2026, 10:00 UTC", "Déconnecter"),
    "es": ("Sistemas conectados", "Activo", "Conectado", "24 nov 2026, 10:00 UTC", "Desconectar"),
    "nl": ("Gekoppelde systemen", "Actief", "Gekoppeld", "24 nov 2026, 10:00 UTC", "Ontkoppelen"),
}


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_panel_and_the_widget_follow_flask_babels_locale(
    api: Any, installed: Path, language: str
) -> None:
    expect_accounts(api, [account("acc_1")])
    api.get(f"{API}/connectors/meta", json=CONNECTORS)
    html = panel_page(babel_app(installed), language)
    title, active, linked, date, disconnect = EXPECTED[language]
    for text in (title, f">{active}<", f"<dt>{linked}</dt>", f">{date}</time>", f">{disconnect}<"):
        assert text in html
    panel = panel_of(html)
    assert panel["data-locale"] == language
    panel_messages = json.loads(panel["data-messages"] or "{}")
    hub_messages = json.loads(panel["data-hub"] or "{}")["messages"]
    assert set(panel_messages) == set(PANEL_MESSAGES)
    assert set(hub_messages) == set(GLUE_MESSAGES)
    translations = gettext.translation(DOMAIN, str(TRANSLATIONS), languages=[language])
    for key, english in PANEL_MESSAGES.items():
        assert panel_messages[key] == translations.gettext(english) != english or key == "retry"
    # the widget's own error states are the server's messages in that language
    [widget] = re.findall(r"data-stackone-hub[^>]*data-messages='([^']*)'", html)
    widget_messages = json.loads(widget.replace("&#34;", '"'))
    assert widget_messages["signed_out"] == translations.gettext(GLUE_MESSAGES["signed_out"])
    assert widget_messages["signed_out"] != GLUE_MESSAGES["signed_out"]
    assert f">{translations.gettext('Connect an account')}</button>" in html


def test_the_panel_without_a_language_the_host_offers_is_english(api: Any, installed: Path) -> None:
    expect_accounts(api, [account("acc_1")])
    api.get(f"{API}/connectors/meta", json=CONNECTORS)
    html = panel_page(babel_app(installed), "ja")
    assert ">Connected systems<" in html
    assert panel_of(html)["data-locale"] == "en"


ONBOARDING = {
    "de": ('lang="de"', "Ihr BambooHR-Konto verbinden", "Verbinden", "Dieser Link ist ungültig"),
    "fr": (
        'lang="fr"',
        "Connectez votre compte BambooHR",
        "Connecter",
        "Ce lien n\u2019est pas valide",
    ),
    "es": ('lang="es"', "Conecte su cuenta de BambooHR", "Conectar", "Este enlace no es válido"),
    "nl": ('lang="nl"', "Uw BambooHR-account koppelen", "Koppelen", "Deze link is niet geldig"),
}


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_onboarding_and_error_pages_follow_flask_babels_locale(
    installed: Path, language: str
) -> None:
    app = babel_app(installed)
    with app.test_request_context():
        link = onboarding_link(ACME, provider="bamboohr").removeprefix("http://localhost")
    client = app.test_client()
    headers = {"Accept-Language": language}
    html = client.get(link, headers=headers).get_data(as_text=True)
    lang, heading, button, invalid = ONBOARDING[language]
    assert f"<html {lang}>" in html
    assert f"<h1>{heading}</h1>" in html
    assert f'<button type="submit">{button}</button>' in html
    assert "<strong>Acme Ltd</strong>" in html
    assert " 2026, " in html and " UTC." in html  # the expiry, as the language writes dates
    refused = client.get("/stackone/link/not-a-link", headers=headers)
    assert refused.status_code == 400
    assert f"<html {lang}>" in refused.get_data(as_text=True)
    assert f"<h1>{invalid}</h1>" in refused.get_data(as_text=True)


# -- without Flask-Babel ----------------------------------------------------------------------


def test_without_flask_babel_everything_is_english(api: Any, installed: Path) -> None:
    expect_accounts(api, [account("acc_1")])
    api.get(f"{API}/connectors/meta", json=CONNECTORS)
    app = build_app(STACKONE_HUB_DIR=str(installed))
    html = panel_page(app, "de")
    assert ">Connected systems<" in html
    assert "<dt>Linked</dt>" in html
    assert ">24 Nov 2026, 10:00 UTC</time>" in html
    assert panel_of(html)["data-locale"] == "en"
    with app.test_request_context():
        link = onboarding_link(ACME).removeprefix("http://localhost")
    page = app.test_client().get(link, headers={"Accept-Language": "de"}).get_data(as_text=True)
    assert '<html lang="en">' in page
    assert "<h1>Connect an account</h1>" in page
    assert re.search(r"It works until \d{4}-\d\d-\d\d \d\d:\d\d UTC\.", page)


def test_stackone_locale_chooses_the_language_without_flask_babel(
    api: Any, installed: Path
) -> None:
    expect_accounts(api, [account("acc_1")])
    api.get(f"{API}/connectors/meta", json=CONNECTORS)
    app = build_app(STACKONE_HUB_DIR=str(installed), STACKONE_LOCALE="fr_FR")
    html = panel_page(app, None)
    assert ">Systèmes connectés<" in html
    assert panel_of(html)["data-locale"] == "fr-FR"

    chosen = build_app(STACKONE_LOCALE=lambda: request.args.get("lang"))
    with chosen.test_request_context():
        link = onboarding_link(ACME).removeprefix("http://localhost")
    client = chosen.test_client()
    assert '<html lang="nl">' in client.get(f"{link}?lang=nl").get_data(as_text=True)
    assert '<html lang="en">' in client.get(link).get_data(as_text=True)


def test_the_host_overrides_single_messages(api: Any, installed: Path) -> None:
    expect_accounts(api, [account("acc_1")])
    api.get(f"{API}/connectors/meta", json=CONNECTORS)
    messages = {
        "Disconnect": "Remove",
        "Connected systems": {"de": "Meine Systeme"},
        "%(name)s is disconnected.": {"de": "%(name)s ist weg."},
    }
    app = babel_app(installed, STACKONE_MESSAGES=messages)
    german = panel_page(app, "de")
    assert ">Meine Systeme<" in german
    assert ">Remove<" in german
    assert json.loads(panel_of(german)["data-messages"] or "")["disconnected"] == (
        "%(name)s ist weg."
    )
    expect_accounts(api, [account("acc_1")])
    english = panel_page(app, "en")
    assert ">Connected systems<" in english
    assert ">Remove<" in english


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("STACKONE_LOCALE", "not a locale"),
        ("STACKONE_LOCALE", 7),
        ("STACKONE_MESSAGES", ["Disconnect"]),
        ("STACKONE_MESSAGES", {"Disconnect": ""}),
        ("STACKONE_MESSAGES", {"Disconnect": {"xx yy": "Weg"}}),
    ],
)
def test_a_wrong_language_setting_is_refused_by_name(key: str, value: Any) -> None:
    with pytest.raises(ConfigurationError, match=key):
        build_app(**{key: value})


@pytest.mark.parametrize(
    "text",
    ["Fertig: %(nom)s", "%(name)s zu 100% verbunden", {"de": "%(name)s %d"}],
)
def test_an_override_with_placeholders_its_message_lacks_is_refused(text: Any) -> None:
    """A text the panel would fail to fill in (a 500 when first shown) is refused up front."""
    with pytest.raises(ConfigurationError, match=r"STACKONE_MESSAGES.*placeholders"):
        build_app(STACKONE_MESSAGES={"%(name)s is connected.": text})
    app = build_app(STACKONE_MESSAGES={"%(name)s is connected.": "%(name)s: 100%% ok"})
    assert app.config["STACKONE_MESSAGES"]


def test_a_locale_the_host_reads_from_the_request_cannot_be_anything() -> None:
    """``STACKONE_LOCALE`` as a function of the request (``?lang=``): a value that is no
    locale is English, and the catalogues kept stay few whatever the values sent."""
    from flask_stackone import i18n

    app = build_app(STACKONE_LOCALE=lambda: request.args.get("lang"))
    with app.test_request_context():
        link = onboarding_link(ACME).removeprefix("http://localhost")
    client = app.test_client()
    for hostile in ["../../etc", "de\x00", "x" * 5000, "<b>", "de'\""]:
        answer = client.get(link, query_string={"lang": hostile})
        assert answer.status_code == 200
        assert '<html lang="en">' in answer.get_data(as_text=True)
    i18n.catalogue.cache_clear()
    for number in range(500):
        client.get(link, query_string={"lang": f"de_x{number}"})
    assert i18n.catalogue.cache_info().currsize <= 64
