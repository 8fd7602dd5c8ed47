"""``{{ stackone_hub() }}``: the Jinja global that puts the StackOne Hub in a page.

Rendering only: a placeholder ``<div>`` whose data attributes carry the options, and our glue
script (``static/stackone/hub.js``). The glue fetches a session token from the token route,
loads the pinned Hub script (with its SRI hash) only when the widget is shown, and confirms
the linked account server-side. No token and no key is ever written into the HTML.
"""

from __future__ import annotations

import functools
import json
import logging
import re
from collections.abc import Iterable, Mapping
from typing import Any

from flask import Flask, current_app, g, render_template, request, url_for
from markupsafe import Markup

from .assets import glue
from .core.client import DEFAULT_API_URL
from .core.hub_script import HUB_VERSION, INSTALL_COMMAND, PACKAGE, PINS, is_installed
from .services.state import EXTENSION_KEY, StackOneState

log = logging.getLogger("flask_stackone")

ACCOUNT_PLACEHOLDER = "ACCOUNT_ID"
#: A CSS length, matched against the whole value (``fullmatch``).
HEIGHT = re.compile(r"[0-9]{1,5}(\.[0-9]{1,3})?(px|em|rem|vh|%)")


def register(app: Flask, blueprint_name: str) -> None:
    """Make ``stackone_hub`` (and the macro's helper) Jinja globals of ``app``.

    One function serves every StackOne blueprint of the app: its ``blueprint`` option picks
    the instance, and without it the first one registered is used.
    """
    render = functools.partial(render_hub, blueprint_name)
    app.jinja_env.globals.setdefault("stackone_hub", render)
    app.jinja_env.globals.setdefault("_stackone_hub_widget", render)


def script_source(state: StackOneState) -> tuple[str, str] | None:
    """``(src, integrity)`` of the Hub script: the CDN URL when configured, else the
    self-hosted copy when installed, else ``None``."""
    integrity = PINS[HUB_VERSION].integrity
    if state.settings.hub_script_url:
        return state.settings.hub_script_url, integrity
    if is_installed(state.settings.hub_dir, HUB_VERSION):
        return url_for(f"{state.name}.hub_script", version=HUB_VERSION), integrity
    return None


def hub_urls(state: StackOneState) -> tuple[str | None, str | None]:
    """The Hub's ``base-url`` and ``app-url``; ``None`` keeps the Hub's defaults.

    In sandbox mode both point at the sandbox, as this browser reaches it.
    """
    if state.sandbox_path is not None:
        sandbox_url = request.root_url.rstrip("/") + state.sandbox_path
        return sandbox_url, sandbox_url
    api_url = state.settings.api_url.rstrip("/")
    return (None if api_url == DEFAULT_API_URL else api_url), None


def hub_base_url(blueprint: str = "stackone") -> str | None:
    """The Hub's ``base-url`` in the current request: the sandbox's or a non-default API
    URL; ``None`` keeps the Hub's default (StackOne)."""
    return hub_urls(_state(blueprint, None))[0]


def hub_app_url(blueprint: str = "stackone") -> str | None:
    """The Hub's ``app-url`` (OAuth popup callbacks) in the current request, or ``None``."""
    return hub_urls(_state(blueprint, None))[1]


def _text(name: str, value: Any, macro: str = "stackone_hub") -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise TypeError(f"{macro}({name}=...) must be a string, got {type(value).__name__}")
    return value


def _categories(value: str | Iterable[str] | None, macro: str = "stackone_hub") -> list[str] | None:
    if value is None:
        return None
    values = [value] if isinstance(value, str) else list(value)
    if not all(isinstance(v, str) for v in values):
        raise TypeError(f"{macro}(categories=...) must be a string or a list of strings")
    return values


def _height(value: str | int | None, macro: str = "stackone_hub") -> str:
    if value is None:
        return "500px"
    if isinstance(value, int) and not isinstance(value, bool):
        value = f"{value}px"
    if not isinstance(value, str) or not HEIGHT.fullmatch(value):
        raise ValueError(f"{macro}(height=...) must be a CSS length like 500px, not {value!r}")
    return value


def _theme(value: str | Mapping[str, Any] | None, macro: str = "stackone_hub") -> str | None:
    if value is None or (isinstance(value, str) and value in ("light", "dark")):
        return value
    if isinstance(value, Mapping):
        return json.dumps(value, separators=(",", ":"))
    raise ValueError(f"{macro}(theme=...) must be 'light', 'dark' or a dict of theme values")


def _flag(name: str, value: Any, macro: str = "stackone_hub") -> bool:
    if not isinstance(value, bool):
        raise TypeError(f"{macro}({name}=...) must be true or false")
    return value


def _state(default: str, blueprint: Any, macro: str = "stackone_hub") -> StackOneState:
    """The state of the blueprint the widget renders for: ``blueprint`` or ``default``."""
    name = default if blueprint is None else _text("blueprint", blueprint, macro) or ""
    states: dict[str, StackOneState] = current_app.extensions.get(EXTENSION_KEY, {})
    if name not in states:
        raise ValueError(
            f"{macro}(blueprint={name!r}) names no StackOne blueprint registered on this "
            f"app (registered: {', '.join(sorted(states)) or 'none'})"
        )
    return states[name]


def element_id(value: str | None, base: str) -> str:
    """``value``, or ``base`` for the first element of its kind on the page, then
    ``base-2``, ``base-3`` ... (counted per request)."""
    if value is not None:
        return value
    counts: dict[str, int] = g.setdefault("_stackone_element_counts", {})
    counts[base] = number = counts.get(base, 0) + 1
    return f"{base}-{number}" if number > 1 else base


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
    :raises TypeError, ValueError: an option has the wrong type or form.
    """
    state = _state(blueprint_name, blueprint)
    options = {
        "provider": _text("provider", provider),
        "categories": _categories(categories),
        "account_id": _text("account_id", account_id),
        "multiple": True if _flag("multiple", multiple) else None,
    }
    if options["multiple"] and options["account_id"]:
        raise ValueError("stackone_hub(multiple=True) adds an account: not with account_id")
    context: dict[str, Any] = {
        "id": element_id(_text("id", id), "stackone-hub"),
        "options": {k: v for k, v in options.items() if v is not None},
        "account_id": options["account_id"],
        "height": _height(height),
        "theme": _theme(theme),
        "redirect_to": _text("redirect_to", redirect_to),
        "lazy": _flag("lazy", lazy),
        "button_label": _text("button_label", button_label) or "Connect an account",
        "nonce": _text("nonce", nonce),
        "token_url": _text("token_url", token_url) or url_for(f"{state.name}.connect_session"),
        "confirm": _flag("confirm", confirm),
        "confirm_url": url_for(f"{state.name}.confirm_account", account_id=ACCOUNT_PLACEHOLDER),
        "glue_src": url_for(f"{state.name}.glue_script", digest=glue().etag),
        "package": PACKAGE,
        "version": HUB_VERSION,
        "install_command": INSTALL_COMMAND,
    }
    source = script_source(state)
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
