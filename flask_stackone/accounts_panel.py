"""``{{ stackone_accounts() }}``: the Jinja global that shows the signed-in customer's linked
accounts, with re-connect, disconnect and add.

Rendering only. The list is read on the server (the services do that: from the app's
linked-accounts store when it has one, else from StackOne), so the page shows it before any
script runs; our panel script (``static/stackone/accounts.js``)
then runs the buttons through the blueprint's routes and updates the list in place with rows
the list route renders (:func:`render_rows`: one template, ``_account_rows.html``, for both).
The Hub for re-connect and add is the widget's glue, in a dialog.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from flask import Flask, current_app, render_template, url_for
from markupsafe import Markup

from .core.connectors import monogram
from .core.errors import FlaskStackOneError
from .core.hub_script import INSTALL_COMMAND
from .error_answers import answer_for
from .i18n import N_, Translator, translator
from .services import accounts, linking
from .services.account_store import registered_stores
from .services.accounts import LinkedAccount
from .services.state import StackOneState
from .widget import options as check
from .widget.assets import glue_url, package_file_url
from .widget.csrf import csrf_token
from .widget.macro import ACCOUNT_PLACEHOLDER, hub_source, hub_urls
from .widget.messages import GLUE_MESSAGES, PANEL_MESSAGES

log = logging.getLogger("flask_stackone")

MACRO = "stackone_accounts"
DEFAULT_TITLE = N_("Connected systems")
DEFAULT_EMPTY_TEXT = N_("No systems connected yet.")
DEFAULT_ADD_LABEL = N_("Add a connection")
#: The labels of the statuses StackOne documents (translated when shown).
STATUS_LABELS = {
    "active": N_("Active"),
    "inactive": N_("Inactive"),
    "error": N_("Error"),
    "pending": N_("Pending"),
    "": N_("Unknown"),
}


def register(app: Flask, blueprint_name: str) -> None:
    """Make ``stackone_accounts`` (and the macro's helper) Jinja globals of ``app``; the
    first StackOne blueprint registered is the default, ``blueprint=`` picks another."""
    render = functools.partial(render_accounts, blueprint_name)
    app.jinja_env.globals.setdefault("stackone_accounts", render)
    app.jinja_env.globals.setdefault("_stackone_accounts_panel", render)


def status_label(status: str | None) -> str:
    """``"active"`` -> ``Active`` (in English: the template translates it); another status
    is shown as it is, capitalised."""
    known = STATUS_LABELS.get(status or "")
    if known is not None:
        return known
    text = (status or "").replace("_", " ").strip()
    return text[:1].upper() + text[1:]


def time_text(moment: datetime | None, words: Translator) -> str | None:
    """A readable UTC time, in the request's language, for the page before its script
    shows it in the reader's time zone."""
    if moment is None:
        return None
    return words.datetime(moment, "{0.day} {0:%b %Y, %H:%M}") + " UTC"


def row(item: LinkedAccount, words: Translator) -> dict[str, Any]:
    """One account as the template renders it (the JSON of the list route, and more)."""
    data = item.as_json()
    data["monogram"] = monogram(item.name)
    data["status_label"] = status_label(item.account.status)
    data["created_text"] = time_text(item.account.created_at, words)
    data["updated_text"] = time_text(item.account.updated_at, words)
    data["title"] = f"{item.name} ({item.account.label})" if item.account.label else item.name
    return data


#: The buttons a row can have.
ROW_ACTIONS = ("reconnect", "disconnect")

#: The panel's own classes for each kind of its buttons: ``plain`` (re-connect, cancel, close,
#: try again), ``primary`` (add), ``danger`` (disconnect) and ``confirm`` (yes, disconnect).
BUTTON_CLASSES = {
    "plain": "stackone-button",
    "primary": "stackone-button stackone-button--primary",
    "danger": "stackone-button stackone-button--danger",
    "confirm": "stackone-button stackone-button--danger-solid",
}
#: Marks a button that wears the host's classes: the panel's style sheet leaves it alone.
HOST_BUTTON = "stackone-host-button"


def button_classes(
    plain: str | None = None, primary: str | None = None, danger: str | None = None
) -> dict[str, str]:
    """The ``class`` of each kind of button (:data:`BUTTON_CLASSES`).

    :param plain: the host's classes for every button (``"btn btn-secondary"``).
    :param primary: the host's classes for **Add** (default: ``plain``).
    :param danger: the host's classes for **Disconnect** and its confirmation (default:
        ``plain``).
    :returns: the host's classes after :data:`HOST_BUTTON` where given, else the panel's own.
    """
    host = {"plain": plain, "primary": primary or plain, "danger": danger or plain}
    host["confirm"] = host["danger"]
    return {
        kind: f"{HOST_BUTTON} {host[kind]}" if host[kind] else own
        for kind, own in BUTTON_CLASSES.items()
    }


def render_rows(
    items: Iterable[LinkedAccount],
    words: Translator,
    actions: Iterable[str] = ROW_ACTIONS,
    buttons: Mapping[str, str] = BUTTON_CLASSES,
) -> str:
    """The panel's rows (``<li>`` elements) for ``items`` in the language of ``words``, with
    the buttons among :data:`ROW_ACTIONS` named in ``actions``, of the classes ``buttons``
    (see :func:`button_classes`); the panel renders them, and the list route answers them to
    the panel's script."""
    chosen = set(actions)
    return render_template(
        "stackone/_account_rows.html",
        _=words.markup,
        rows=[row(item, words) for item in items],
        can_reconnect="reconnect" in chosen,
        can_disconnect="disconnect" in chosen,
        buttons=buttons,
    )


def _heading_level(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 5:
        raise ValueError(f"{MACRO}(heading_level=...) must be 1 to 5, not {value!r}")
    return value


def _load(
    state: StackOneState, options: dict[str, Any], words: Translator
) -> tuple[list[dict[str, Any]], str | None, bool]:
    """``(rows, problem, stored)``: the owner's accounts, or why there are none to show;
    ``stored`` when they were read from the app's linked-accounts store (no StackOne call:
    the panel's script refreshes them from StackOne), else they were read from StackOne."""
    try:
        owner = linking.current_owner(state)
        if owner is None:
            return [], "signed_out", False
        state.require_client()
        store = registered_stores(current_app).get(state.name)
        if store is not None:
            listed = accounts.list_stored_accounts(state, store, owner, **options)
            return [row(item, words) for item in listed], None, True
        listed = accounts.list_owner_accounts(state, owner, **options)
        return [row(item, words) for item in listed], None, False
    except FlaskStackOneError as exc:
        answer = answer_for(exc)
        if answer is None:
            raise
        answer.log()
        problem = "not_configured" if answer.code == "not_configured" else "unavailable"
        return [], problem, False


def render_accounts(
    blueprint_name: str,
    provider: str | None = None,
    categories: str | Iterable[str] | None = None,
    allow_add: bool = True,
    allow_reconnect: bool = True,
    allow_disconnect: bool = True,
    title: str | None = DEFAULT_TITLE,
    heading_level: int = 2,
    empty_text: str | None = None,
    add_label: str | None = None,
    height: str | int | None = None,
    theme: str | Mapping[str, Any] | None = None,
    nonce: str | None = None,
    id: str | None = None,
    server_render: bool = True,
    stylesheet: bool = True,
    button_class: str | None = None,
    primary_button_class: str | None = None,
    danger_button_class: str | None = None,
    blueprint: str | None = None,
) -> Markup:
    """Render the accounts panel. See docs/accounts-panel.md for every option.

    :param provider: list only this connector's accounts; **Add** opens its form.
    :param categories: list only accounts of these categories; **Add** offers only them.
    :param allow_add: show the **Add** button (it opens the Hub).
    :param allow_reconnect: show **Re-connect** on each account (the Hub in edit mode).
    :param allow_disconnect: show **Disconnect** on each account (asks for confirmation).
    :param title: the panel's heading (``None`` or ``""``: no visible heading). The default
        texts of ``title``, ``empty_text`` and ``add_label`` are in the request's language
        (see docs/language-and-styling.md); yours are shown as they are.
    :param heading_level: the heading's level, ``h2`` by default.
    :param empty_text: what the panel says when no account is linked.
    :param add_label: the **Add** button's text.
    :param height: the Hub's CSS height in the dialog (``"500px"``).
    :param theme: the Hub's theme (``"light"``, ``"dark"`` or a dict).
    :param nonce: the page's CSP nonce, put on the ``<script>`` tags.
    :param id: the panel's HTML id (default ``stackone-accounts``, ``stackone-accounts-2``...).
    :param server_render: read the list while rendering the page (default: from the app's
        linked-accounts store when it has one, then refreshed by the script from StackOne;
        else from StackOne); ``False`` leaves it to the script, so the page never waits.
    :param stylesheet: link the panel's default style sheet (``False``: style it yourself).
    :param button_class: your own classes for every button of the panel (``"btn
        btn-secondary"``); such buttons are left to your style sheets.
    :param primary_button_class: your classes for **Add** (default: ``button_class``).
    :param danger_button_class: your classes for **Disconnect** and its confirmation
        (default: ``button_class``).
    :param blueprint: the registered name of the StackOne blueprint to use.
    :raises TypeError, ValueError: an option has the wrong type or form, or names a
        provider or category this app does not offer.
    """
    state = check.blueprint_state(blueprint_name, blueprint, MACRO)
    words = translator(state.settings)
    options = accounts.list_options(
        state,
        {
            "provider": check.text("provider", provider, MACRO),
            "categories": check.categories(categories, MACRO),
        },
    )
    hub_options = {
        "provider": options["provider"],
        "categories": check.categories(categories, MACRO),
    }
    source = hub_source(state)
    if source is None and (allow_add or allow_reconnect):
        log.warning(
            "the StackOne Hub script is not available for the accounts panel: run `%s` or set %s",
            INSTALL_COMMAND,
            state.settings.name("hub_script_url"),
        )
    hub_src, integrity = source or (None, None)
    base_url, app_url = hub_urls(state)
    can_add = check.flag("allow_add", allow_add, MACRO) and hub_src is not None
    can_reconnect = check.flag("allow_reconnect", allow_reconnect, MACRO) and hub_src is not None
    rows: list[dict[str, Any]] = []
    problem: str | None = "loading"
    stored = False
    if check.flag("server_render", server_render, MACRO):
        rows, problem, stored = _load(state, options, words)
    if problem in ("signed_out", "not_configured"):
        can_add = can_reconnect = False  # nothing to offer until that changes
    can_disconnect = check.flag("allow_disconnect", allow_disconnect, MACRO)
    shown = {"reconnect": can_reconnect, "disconnect": can_disconnect}
    actions = [name for name in ROW_ACTIONS if shown[name]]
    panel_id = check.element_id(check.text("id", id, MACRO), "stackone-accounts")
    host_classes = {
        "button_class": check.text("button_class", button_class, MACRO),
        "primary_button_class": check.text("primary_button_class", primary_button_class, MACRO),
        "danger_button_class": check.text("danger_button_class", danger_button_class, MACRO),
    }
    buttons = button_classes(*host_classes.values())
    heading = check.text("title", title, MACRO)
    context: dict[str, Any] = {
        "_": words.markup,
        "locale": words.lang,
        "messages": words.script_messages(PANEL_MESSAGES),
        "id": panel_id,
        "rows": rows,
        "problem": problem,
        "stored": stored,
        "title": words.gettext(heading) if heading == DEFAULT_TITLE else heading,
        "level": _heading_level(heading_level),
        "empty_text": check.text("empty_text", empty_text, MACRO)
        or words.gettext(DEFAULT_EMPTY_TEXT),
        "add_label": check.text("add_label", add_label, MACRO) or words.gettext(DEFAULT_ADD_LABEL),
        "can_add": can_add,
        "can_reconnect": can_reconnect,
        "can_disconnect": can_disconnect,
        "hub_missing": hub_src is None and (allow_add or allow_reconnect),
        "install_code": Markup("<code>{}</code>").format(INSTALL_COMMAND),
        "nonce": check.text("nonce", nonce, MACRO),
        "stylesheet": check.flag("stylesheet", stylesheet, MACRO),
        "buttons": buttons,
        "list_url": url_for(
            f"{state.name}.list_accounts",
            provider=options["provider"],
            categories=",".join(options["categories"] or ()) or None,
            # the rows the script asks for have this panel's buttons (all by default)
            actions=None if len(actions) == len(ROW_ACTIONS) else " ".join(actions),
            # and its buttons' classes
            button_class=host_classes["button_class"],
            danger_button_class=host_classes["danger_button_class"],
        ),
        "disconnect_url": url_for(
            f"{state.name}.disconnect_account", account_id=ACCOUNT_PLACEHOLDER
        ),
        "hub": {
            "token_url": url_for(f"{state.name}.connect_session"),
            "confirm_url": url_for(f"{state.name}.confirm_account", account_id=ACCOUNT_PLACEHOLDER),
            "hub_src": hub_src,
            "integrity": integrity,
            "height": check.height(height, MACRO),
            "theme": check.theme(theme, MACRO),
            "base_url": base_url,
            "app_url": app_url,
            "messages": words.script_messages(GLUE_MESSAGES),
        },
        "add_options": {k: v for k, v in hub_options.items() if v},
        "glue_src": glue_url(state.name),
        "panel_src": package_file_url(state.name, "accounts.js"),
        "css_href": package_file_url(state.name, "accounts.css"),
        "csrf_token_value": csrf_token(),
    }
    # render_template autoescapes every value; the result is HTML to keep as it is.
    return Markup(render_template("stackone/_accounts.html", **context))  # noqa: S704
