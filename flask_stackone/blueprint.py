"""The Flask blueprint: ``stackone_bp``, ``make_blueprint`` and what registration sets up."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Any

from flask import Blueprint, Flask, Response, request
from flask.blueprints import BlueprintSetupState
from werkzeug.exceptions import HTTPException

from . import auth_links, hub_assets, views, widget
from .cli import init_cli
from .config import DEFAULTS, apply_defaults, read_settings
from .errors import ConfigurationError
from .models import Owner
from .state import EXTENSION_KEY, StackOneState, make_delivery_store

log = logging.getLogger("flask_stackone")

OwnerLoader = Callable[[], "Owner | None"]


class StackOneBlueprint(Blueprint):
    """A blueprint with StackOne's routes. Register it on as many apps as you like.

    :param name: the blueprint name (endpoints are ``<name>.connect_session`` ...).
    :param url_prefix: where the routes live, ``/stackone`` by default.
    :param config_prefix: the prefix of this instance's settings, ``STACKONE_`` by default.
    :param options: explicit settings (``api_key=...``, ``providers=[...]``), lower-case
        names of the ``STACKONE_*`` keys; they beat ``app.config``.
    """

    def __init__(
        self,
        name: str = "stackone",
        import_name: str = __name__,
        *,
        url_prefix: str = "/stackone",
        config_prefix: str = "STACKONE_",
        **options: Any,
    ) -> None:
        super().__init__(
            name,
            import_name,
            url_prefix=url_prefix,
            template_folder="templates",
            static_folder="static",
            static_url_path="/static",
        )
        unknown = set(options) - {k.lower() for k in DEFAULTS}
        if unknown:
            raise TypeError(f"unknown flask-stackone option(s): {', '.join(sorted(unknown))}")
        self.config_prefix = config_prefix
        self.options = options
        self.owner_loader_func: OwnerLoader | None = None
        self.json_endpoints: set[str] = set()
        self.add_json_route("/connect-session", views.connect_session)
        self.add_json_route("/accounts/<account_id>/confirm", views.confirm_account)
        self.add_json_route("/webhooks", views.webhook)
        self.add_url_rule(
            "/link/<signed>", view_func=auth_links.onboarding_page, methods=["GET", "POST"]
        )
        self.add_json_route("/link/<signed>/session", auth_links.onboarding_session)
        self.add_url_rule(
            "/hub/<version>/webcomponent.js", "hub_script", hub_assets.hub_script_view
        )
        self.add_url_rule("/glue/<digest>/hub.js", "glue_script", widget.glue_view)
        self.register_error_handler(400, self._bad_request)
        self.cli.help = "StackOne account linking: sessions, accounts, webhooks, sandbox."
        init_cli(self.cli, name)
        self.cli.add_command(hub_assets.make_cli(name))
        self.record(self._init_app)  # every registration, also under another name

    def add_json_route(self, rule: str, view: Callable[..., Response]) -> None:
        """Route a POST-only JSON view; other methods get a JSON 405, not Flask's HTML one."""

        @functools.wraps(view)
        def post_only(**kwargs: Any) -> Response:
            if request.method != "POST":
                response = views.json_error(
                    405, "method_not_allowed", f"{request.method} is not allowed here; use POST"
                )
                response.headers["Allow"] = "POST"
                return response
            return view(**kwargs)

        self.json_endpoints.add(view.__name__)
        methods = ["GET", "POST", "PUT", "PATCH", "DELETE"]
        self.add_url_rule(rule, view_func=post_only, methods=methods)

    def _bad_request(self, exc: HTTPException) -> Response | HTTPException:
        """JSON for a 400 raised before our JSON views run (Flask-WTF's CSRF check)."""
        if (request.endpoint or "").rpartition(".")[2] not in self.json_endpoints:
            return exc
        code = "csrf_failed" if type(exc).__name__ == "CSRFError" else "bad_request"
        return views.json_error(400, code, exc.description or "bad request")

    def owner_loader(self, func: OwnerLoader) -> OwnerLoader:
        """Decorate the function that returns the signed-in customer as an :class:`Owner`,
        or ``None`` when nobody is signed in. It runs on the server, in the request."""
        self.owner_loader_func = func
        return func

    def _init_app(self, setup: BlueprintSetupState) -> None:
        app = setup.app
        name = setup.name_prefix + "." + setup.name if setup.name_prefix else setup.name
        apply_defaults(app.config, self.config_prefix)
        settings = read_settings(app.config, self.config_prefix, self.options)
        state = StackOneState(
            blueprint=self,
            name=name,
            settings=settings,
            delivery_store=make_delivery_store(app, settings),
        )
        if settings.sandbox:
            from .sandbox import install

            install(app, state)
            settings = state.settings  # the sandbox filled in the key, secret and API URL
        if settings.api_key:
            state.client  # noqa: B018 - refuse a bad API URL now, not at the first request
        app.extensions.setdefault(EXTENSION_KEY, {})[name] = state
        widget.register(app, name)
        _exempt_webhook_from_csrf(app)
        if not settings.api_key:
            log.warning("%s is not set: the token route will answer 503", settings.name("api_key"))
        if not settings.webhook_secret:
            log.warning(
                "%s is not set: the webhook route will answer 503", settings.name("webhook_secret")
            )


def _exempt_webhook_from_csrf(app: Flask) -> None:
    """Exempt the webhook view (only it) from Flask-WTF's CSRFProtect, set up before or after."""
    csrf = app.extensions.get("csrf")
    if csrf is not None:
        csrf.exempt(views.webhook)
        return

    @app.before_request
    def exempt_when_csrf_appears() -> None:  # runs before CSRFProtect's own hook
        late = app.extensions.get("csrf")
        if late is not None:
            late.exempt(views.webhook)


def make_blueprint(name: str = "stackone", **kwargs: Any) -> StackOneBlueprint:
    """A new blueprint instance: for a second StackOne project, prefix or key.

    ``make_blueprint("stackone_eu", url_prefix="/stackone-eu", config_prefix="STACKONE_EU_")``
    """
    return StackOneBlueprint(name, **kwargs)


#: The default blueprint: ``app.register_blueprint(stackone_bp)``.
stackone_bp = make_blueprint()

__all__ = ["ConfigurationError", "StackOneBlueprint", "make_blueprint", "stackone_bp"]
