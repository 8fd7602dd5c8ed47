"""``{{ stackone_hub() }}``: the Jinja global that puts the StackOne Hub in a page.

Rendering only: a placeholder ``<div>`` whose data attributes carry the options, and the glue
script (``static/stackone/hub.js``). The glue fetches a session token from the token route,
loads the pinned Hub script (with its SRI hash) only when the widget is shown, and confirms
the linked account server-side. No token and no key is ever written into the HTML.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Iterable, Mapping
from typing import Any

from flask import Flask, render_template, request, url_for
from markupsafe import Markup

from ..core.client import DEFAULT_API_URL
from ..core.hub_script import HUB_VERSION, INSTALL_COMMAND, PACKAGE, script_source
from ..i18n import N_, translator
from ..services.state import StackOneState
from . import options as check
from .assets import glue_url, hub_script_url
from .csrf import csrf_token
from .messages import GLUE_MESSAGES

log = logging.getLogger("flask_stackone")

ACCOUNT_PLACEHOLDER = "ACCOUNT_ID"
#: The lazy button's text unless the page gives one (in the request's language).
DEFAULT_BUTTON_LABEL = N_("Connect an account")


def register(app: Flask, blueprint_name: str) -> None:
    """Make ``stackone_hub`` (and the macro's helper) Jinja globals of ``app``.

    One function serves every StackOne blueprint of the app: its ``blueprint`` option picks
    the instance, and without it the first one registered is used.
    """
    render = functools.partial(render_hub, blueprint_name)
    app.jinja_env.globals.setdefault("stackone_hub", render)
    app.jinja_env.globals.setdefault("_stackone_hub_widget", render)


def hub_source(state: StackOneState) -> tuple[str, str] | None:
    """``(src, integrity)`` of the Hub script for this blueprint's pages, or ``None``: see
    :func:`~flask_stackone.core.hub_script.script_source`."""
    return script_source(
        state.settings.hub_script_url,
        state.settings.hub_dir,
        functools.partial(hub_script_url, state.name),
    )


def hub_urls(state: StackOneState) -> tuple[str | None, str | None]:
    """The Hub's ``base-url`` and ``app-url``; ``None`` keeps the Hub's defaults.

    In sandbox mode both point at the sandbox, as this browser reaches it; otherwise the
    ``app-url`` is ``STACKONE_HUB_APP_URL`` when set.
    """
    if state.sandbox_path is not None:
        sandbox_url = request.root_url.rstrip("/") + state.sandbox_path
        return sandbox_url, sandbox_url
    api_url = state.settings.api_url.rstrip("/")
    return (None if api_url == DEFAULT_API_URL else api_url), state.settings.hub_app_url


def render_hub(
    blueprint_name: str,
    provider: str | None = None,
    categories: str | Iterable[str] | None = None,
    account_id: str | None = None,
    height: str | int | None = None,
    theme: str | Mapping[str, Any] | None = None,
    redirect_to: str | None = None,
    lazy: bool = False,
    button_label: str | None = None,
    nonce: str | None = None,
    id: str | None = None,
    token_url: str | None = None,
    confirm: bool = True,
    blueprint: str | None = None,
    multiple: bool = False,
    label: str | None = None,
    show_footer_links: bool | None = None,
    on_close_label: str | None = None,
    debug: bool = False,
) -> Markup:
    """Render the widget. See docs/widget.md for every option.

    :param provider: open this connector straight away (e.g. ``"bamboohr"``).
    :param categories: offer only connectors of these categories (``"hris"``, ...).
    :param account_id: re-connect (edit) this existing account of the signed-in owner.
    :param height: CSS height of the Hub (``"500px"``; an int means pixels).
    :param theme: ``"light"``, ``"dark"`` or a dict of Hub theme values.
    :param redirect_to: same-origin URL to open once the account is linked and active.
    :param lazy: show a button; load the Hub and create the session only on click.
    :param button_label: the lazy button's text.
    :param nonce: the page's CSP nonce, put on the ``<script>`` tags.
    :param id: the widget's HTML id (default ``stackone-hub``, ``stackone-hub-2`` ...).
    :param token_url: where the glue POSTs for a session token (default: the token route).
    :param confirm: call the confirm route on success (default true).
    :param blueprint: the registered name of the StackOne blueprint whose routes, settings
        and Hub script to use (default: the first one registered, ``blueprint_name``).
    :param multiple: link one more account even when the owner already has one of the
        chosen connector (without it StackOne re-links the existing account).
    :param label: the name of the account the person links (e.g. "Payroll, Germany"); the
        ``session_fields`` hook may replace it.
    :param show_footer_links: ``False`` hides the Hub's Terms and Privacy links.
    :param on_close_label: the text of the Hub's Close button on its success screen.
    :param debug: turn on the Hub's own debug logging (in the browser's console).
    :raises TypeError, ValueError: an option has the wrong type or form.
    """
    state = check.blueprint_state(blueprint_name, blueprint)
    words = translator(state.settings)
    options = {
        "provider": check.text("provider", provider),
        "categories": check.categories(categories),
        "account_id": check.text("account_id", account_id),
        "multiple": True if check.flag("multiple", multiple) else None,
        "label": check.label(label),
    }
    if options["multiple"] and options["account_id"]:
        raise ValueError("stackone_hub(multiple=True) adds an account: not with account_id")
    context: dict[str, Any] = {
        "_": words.markup,
        "messages": words.script_messages(GLUE_MESSAGES),
        "id": check.element_id(check.text("id", id), "stackone-hub"),
        "options": {k: v for k, v in options.items() if v is not None},
        "account_id": options["account_id"],
        "height": check.height(height),
        "theme": check.theme(theme),
        "redirect_to": check.text("redirect_to", redirect_to),
        "lazy": check.flag("lazy", lazy),
        "show_footer_links": (
            None
            if show_footer_links is None
            else check.flag("show_footer_links", show_footer_links)
        ),
        "on_close_label": check.text("on_close_label", on_close_label),
        "debug": check.flag("debug", debug),
        "button_label": check.text("button_label", button_label)
        or words.gettext(DEFAULT_BUTTON_LABEL),
        "nonce": check.text("nonce", nonce),
        "token_url": check.text("token_url", token_url) or url_for(f"{state.name}.connect_session"),
        "confirm": check.flag("confirm", confirm),
        "confirm_url": url_for(f"{state.name}.confirm_account", account_id=ACCOUNT_PLACEHOLDER),
        "glue_src": glue_url(state.name),
        "package": PACKAGE,
        "version": HUB_VERSION,
        "install_code": Markup("<code>{}</code>").format(INSTALL_COMMAND),
        "setting_code": Markup("<code>{}</code>").format(state.settings.name("hub_script_url")),
        "csrf_token_value": csrf_token(),
    }
    source = hub_source(state)
    if source is None:
        log.warning(
            "the StackOne Hub script is not available: run `%s` or set %s",
            INSTALL_COMMAND,
            state.settings.name("hub_script_url"),
        )
    context["hub_src"], context["integrity"] = source or (None, None)
    context["base_url"], context["app_url"] = hub_urls(state)
    # render_template autoescapes every value; the result is HTML to keep as it is.
    return Markup(render_template("stackone/_widget.html", **context))  # noqa: S704
