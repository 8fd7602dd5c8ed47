"""Registration: ``stackone_bp``, ``make_blueprint``, and the per-app state built once."""

from __future__ import annotations

import copy
import functools
import logging
import sys
from collections.abc import Callable
from typing import Any, cast

from flask import Blueprint, Flask, Response, request
from flask.blueprints import BlueprintSetupState
from werkzeug.exceptions import HTTPException

from . import accounts_panel, routes
from .cli import BlueprintCommands
from .config import apply_defaults, check_option_names, read_settings
from .core.client import StackOneClient
from .core.errors import ConfigurationError, FlaskStackOneError
from .core.settings_table import PLUGIN_SETTINGS
from .core.stores import open_store
from .sandbox_mount import prepare_sandbox
from .services.readiness import configuration_problems
from .services.settings import Settings
from .services.state import (
    EXTENSION_KEY,
    OwnerLoader,
    SessionFieldsHook,
    StackOneState,
    get_state,
)
from .widget import assets, macro

log = logging.getLogger("flask_stackone")


class StackOneBlueprint(Blueprint):
    """A blueprint with StackOne's routes, made by :func:`make_blueprint`. Register it on as
    many apps as you like."""

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
        check_option_names(options)
        self.config_prefix = config_prefix
        self.options = options
        self.owner_loader_func: OwnerLoader | None = None
        self.session_fields_func: SessionFieldsHook | None = None
        self.json_endpoints: set[str] = set()
        self.add_json_route("/connect-session", routes.connect_session)
        self.add_json_route("/accounts/<account_id>/confirm", routes.confirm_account)
        self.add_json_route("/accounts", routes.list_accounts, methods=("GET", "POST"))
        self.add_json_route("/accounts/<account_id>/disconnect", routes.disconnect_account)
        self.add_json_route("/webhooks", routes.webhook)
        self.add_url_rule(
            "/link/<signed>", view_func=routes.onboarding_page, methods=["GET", "POST"]
        )
        self.add_json_route("/link/<signed>/session", routes.onboarding_session)
        self.add_url_rule("/hub/<version>/webcomponent.js", "hub_script", assets.hub_script_view)
        self.add_url_rule("/glue/<digest>/hub.js", "glue_script", assets.glue_view)
        self.add_url_rule("/assets/<digest>/<name>", "package_file", assets.package_file_view)
        self.register_error_handler(FlaskStackOneError, routes.error_answer)
        self.register_error_handler(400, self._bad_request)
        self.after_request(routes.deny_framing)  # Flask's own HTML errors (CSRF) too
        self.cli = BlueprintCommands(name)
        self.record(self._init_app)  # every registration, also under another name

    def add_json_route(
        self, rule: str, view: Callable[..., Response], methods: tuple[str, ...] = ("POST",)
    ) -> None:
        """Route a JSON view taking ``methods`` (POST only by default); other methods get a
        JSON 405, not Flask's HTML one."""
        allowed = ", ".join(methods)

        @functools.wraps(view)
        def json_view(**kwargs: Any) -> Response:
            if request.method not in methods:
                response = routes.json_error(
                    405,
                    "method_not_allowed",
                    f"{request.method} is not allowed here; use {allowed}",
                )
                response.headers["Allow"] = allowed
                return response
            return view(**kwargs)

        self.json_endpoints.add(view.__name__)
        routed = ["GET", "POST", "PUT", "PATCH", "DELETE"]
        self.add_url_rule(rule, view_func=json_view, methods=routed)

    def _bad_request(self, exc: HTTPException) -> Response | HTTPException:
        """JSON for a 400 raised before our JSON views run (Flask-WTF's CSRF check)."""
        if (request.endpoint or "").rpartition(".")[2] not in self.json_endpoints:
            return exc
        code = "csrf_failed" if _is_csrf_error(exc) else "bad_request"
        return routes.json_error(400, code, exc.description or "bad request")

    def owner_loader(self, func: OwnerLoader) -> OwnerLoader:
        """Decorate the function that returns the signed-in customer as an :class:`Owner`,
        or ``None`` when nobody is signed in. It runs on the server, in the request."""
        self.owner_loader_func = func
        return func

    def _current_loader(self) -> OwnerLoader | None:
        return self.owner_loader_func

    def session_fields(self, func: SessionFieldsHook) -> SessionFieldsHook:
        """Decorate the function that adds fields to every Connect Session the plugin
        creates (the widget's token route, auth links, onboarding links): called with the
        :class:`Owner` and the session's checked options (``provider``, ``categories``,
        ``account_id``, ``multiple``, ``label``), it returns a mapping of ``label``,
        ``metadata``, ``type`` or ``connector_profile_id`` (or ``None``). It runs on the
        server; a ``label`` it returns replaces the page's."""
        self.session_fields_func = func
        return func

    def _current_session_fields(self) -> SessionFieldsHook | None:
        return self.session_fields_func

    def _init_app(self, setup: BlueprintSetupState) -> None:
        app = cast(Flask, setup.app)  # typed as Flask's sans-IO base class since Flask 3
        name = setup.name_prefix + "." + setup.name if setup.name_prefix else setup.name
        state = self._build_state(app, name)
        app.extensions.setdefault(EXTENSION_KEY, {})[name] = state
        macro.register(app, name)
        accounts_panel.register(app, name)
        _exempt_webhook_from_csrf(app, name)
        _watch_late_settings(app, name, state.settings, self.options)

    def _build_state(self, app: Flask, name: str) -> StackOneState:
        """The complete state of this registration: settings in use, client, store."""
        settings = read_settings(app.config, self.config_prefix, self.options)
        settings, session, sandbox_path = prepare_sandbox(app, settings, f"{name}.webhook")
        apply_defaults(app.config, settings)
        store = open_store(
            settings.delivery_store,
            app.instance_path,
            settings.name("delivery_store"),
            lease=settings.delivery_lease,
        )
        _check_max_age(settings, store)
        return StackOneState(
            name=name,
            blueprint_name=self.name,
            settings=settings,
            delivery_store=store,
            owner_loader=self._current_loader,
            session_fields=self._current_session_fields,
            loader_hint=(
                "@stackone_bp.owner_loader"
                if self is stackone_bp
                else f"@bp.owner_loader, where bp = make_blueprint({self.name!r})"
            ),
            api_client=_make_client(settings, session),
            sandbox_path=sandbox_path,
        )


def _watch_late_settings(
    app: Flask, name: str, settings: Settings, options: dict[str, Any]
) -> None:
    """Fail loudly when a setting is put in ``app.config`` after registration read it.

    The settings are read once, at registration: ``app.config.from_prefixed_env()`` called
    after ``register_blueprint`` would otherwise be ignored, and the routes would say the key
    "is not set" while ``app.config`` holds it. This blueprint's requests compare the
    ``STACKONE_*`` values with what registration read (explicit arguments excepted) until
    they match once, then take that hook off; while one differs they answer
    ``503 not_configured`` naming the settings. The app's first request, whoever it is for,
    logs the difference once, and (unless the app is testing) what keeps this registration
    from working (see :func:`~.services.readiness.configuration_problems`); then that hook is
    taken off the app, so the host's own requests run no hook of the plugin. Registering says
    nothing: a test building the app or a command such as ``flask db upgrade`` stays quiet.
    """
    keys = [settings.prefix + s.key for s in PLUGIN_SETTINGS if s.field not in options]
    read = {key: _snapshot(app.config.get(key)) for key in keys}

    def late_settings() -> ConfigurationError | None:
        changed = [key for key in keys if app.config.get(key) != read[key]]
        if not changed:
            return None
        return ConfigurationError(
            f"{', '.join(changed)} changed in app.config after app.register_blueprint() "
            "read the settings; flask-stackone reads them once, at registration. Set them "
            "(app.config.from_prefixed_env(), app.config.update(...)) before "
            "app.register_blueprint()"
        )

    def check_late_settings() -> None:  # this blueprint's requests, until they match once
        error = late_settings()
        if error is not None:
            raise error
        _remove_hook(app, name, check_late_settings)

    def report_once() -> None:  # the app's first request, then never again
        _remove_hook(app, None, report_once)
        ours = request.blueprint is not None and (
            request.blueprint == name or request.blueprint.startswith(name + ".")
        )
        error = None if ours else late_settings()  # our own request answers (and logs) it
        if error is not None:
            log.error("flask-stackone is not configured as intended: %s", error)
        if not app.testing:
            for problem in configuration_problems(get_state(app, name)):
                log.warning("flask-stackone cannot work: %s", problem)

    app.before_request_funcs.setdefault(name, []).append(check_late_settings)
    app.before_request(report_once)


def _snapshot(value: Any) -> Any:
    """A copy of a list, dict or set (changed in place later, it must still differ); any
    other value (a delivery store object...) as it is."""
    return copy.copy(value) if type(value) in (list, dict, set) else value


def _check_max_age(settings: Settings, store: Any) -> None:
    """A delivery accepted within ``STACKONE_WEBHOOK_MAX_AGE`` must still be remembered by
    the store, or a replay of it would run the receivers again.

    :raises ConfigurationError: the store says it forgets sooner (its ``ttl``).
    """
    ttl = getattr(store, "ttl", None)
    max_age = settings.webhook_max_age
    if max_age is None or isinstance(ttl, bool) or not isinstance(ttl, (int, float)):
        return
    if max_age > ttl:
        raise ConfigurationError(
            f"{settings.name('webhook_max_age')} ({max_age} s) is longer than the delivery "
            f"store remembers deliveries ({ttl:g} s): a replayed body would be accepted again. "
            "Lower it, or give the store a longer ttl."
        )


def _make_client(settings: Settings, session: Any) -> StackOneClient | None:
    """The pooled client, or ``None`` without an API key (refusing a bad URL now)."""
    if not settings.api_key:
        return None
    return StackOneClient(
        settings.api_key,
        settings.api_url,
        timeout=settings.timeout,
        max_retries=settings.max_retries,
        max_retry_wait=settings.max_retry_wait,
        session=session,
    )


def _is_csrf_error(exc: HTTPException) -> bool:
    """Flask-WTF's CSRF failure (only ever raised when Flask-WTF is imported)."""
    csrf = sys.modules.get("flask_wtf.csrf")
    return csrf is not None and isinstance(exc, csrf.CSRFError)


def _remove_hook(app: Flask, scope: str | None, hook: Callable[[], None]) -> None:
    """Take a ``before_request`` hook off (a new list: requests running meanwhile keep theirs)."""
    hooks = app.before_request_funcs.get(scope, [])
    app.before_request_funcs[scope] = [f for f in hooks if f is not hook]


def _exempt_webhook_from_csrf(app: Flask, name: str) -> None:
    """Exempt the webhook view (only it) from Flask-WTF's CSRFProtect, set up before or after.

    CSRFProtect set up later is found on this blueprint's own requests, by a URL value
    preprocessor: those run before every ``before_request`` hook, CSRFProtect's and the
    host's own included (a host hook may call ``csrf.protect()`` itself).
    """
    csrf = app.extensions.get("csrf")
    if csrf is not None:
        csrf.exempt(routes.webhook)
        return

    def exempt_when_csrf_appears(endpoint: str | None, values: dict[str, Any] | None) -> None:
        late = app.extensions.get("csrf")
        if late is not None:
            late.exempt(routes.webhook)

    app.url_value_preprocessors.setdefault(name, []).append(exempt_when_csrf_appears)


def make_blueprint(
    name: str = "stackone",
    *,
    url_prefix: str = "/stackone",
    config_prefix: str = "STACKONE_",
    **options: Any,
) -> StackOneBlueprint:
    """A new blueprint instance: for a second StackOne project, prefix or key.

    ``make_blueprint("stackone_eu", url_prefix="/stackone-eu", config_prefix="STACKONE_EU_")``

    :param name: the blueprint name (endpoints are ``<name>.connect_session`` ...).
    :param url_prefix: where the routes live, ``/stackone`` by default.
    :param config_prefix: the prefix of this instance's settings, ``STACKONE_`` by default.
    :param options: explicit settings (``api_key=...``, ``providers=[...]``), lower-case
        names of the ``STACKONE_*`` keys; they beat ``app.config``.
    :raises TypeError: an option that is no setting.
    """
    return StackOneBlueprint(name, url_prefix=url_prefix, config_prefix=config_prefix, **options)


#: The default blueprint: ``app.register_blueprint(stackone_bp)``.
stackone_bp = make_blueprint()

__all__ = ["make_blueprint", "stackone_bp"]
