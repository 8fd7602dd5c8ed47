"""The sandbox blueprint, mounted at ``/stackone-sandbox`` by :func:`install`."""

from __future__ import annotations

from flask import Blueprint, Response, request
from werkzeug.exceptions import HTTPException, MethodNotAllowed

from . import api, pages
from .accounts import SandboxError
from .state import URL_PREFIX, get_sandbox

sandbox_bp = Blueprint("stackone_sandbox", __name__, template_folder="templates")

HUB_HEADERS = "Content-Type, x-hub-session-token, x-hub-version"
#: The JSON APIs under the prefix: their routing errors (404, 405) get StackOne's JSON body.
API_PATHS = ("/connect_sessions", "/accounts", "/connectors", "/hub")


def route(rule: str, view: object, methods: tuple[str, ...] = ("GET",), **options: object) -> None:
    sandbox_bp.add_url_rule(rule, view_func=view, methods=list(methods), **options)  # type: ignore[arg-type]


# StackOne's platform API (HTTP Basic with the API key; no CORS: server side only).
route("/connect_sessions", api.create_connect_session, ("POST",))
route("/connect_sessions/authenticate", api.authenticate_connect_session, ("POST",))
route("/accounts", api.list_accounts)
route("/accounts/<account_id>", api.account, ("GET", "PATCH", "DELETE"))
route("/connectors/meta", api.connectors_meta)
route("/connectors/meta/<provider>", api.connector_meta)
# The Hub's calls (x-hub-session-token).
route("/hub/settings", api.hub_settings)
route("/hub/connectors", api.hub_connectors)
route("/hub/connectors/<integration_id>", api.hub_connector)
route("/hub/accounts", api.hub_create_account, ("POST",))
route("/hub/accounts/<account_id>", api.hub_account, ("GET", "PATCH"))
route("/hub/connection_attempts", api.hub_create_attempt, ("POST",))
route("/hub/connection_attempts/<attempt_id>", api.hub_attempt, ("GET", "DELETE"))
# Pages.
route("/connect/oauth2/<integration_id>", pages.oauth_popup, ("GET", "POST"))
route("/embedded/accounts/callback", pages.callback, endpoint="callback")
route("/auth-link/<token>", pages.auth_link, ("GET", "POST"))
route("/auth-link/<token>/session", pages.auth_link_session, ("POST",))
route("/logos/<key>.svg", pages.logo)
route("/", pages.dashboard)
route("/accounts/<item_id>/<any(status, delete):action>", pages.dashboard_action, ("POST",))
route("/deliveries/<item_id>/<any(retry):action>", pages.dashboard_action, ("POST",))
route("/<any(reset):action>", pages.dashboard_action, ("POST",))


@sandbox_bp.errorhandler(SandboxError)
def sandbox_error(exc: SandboxError) -> Response:
    return api.failure(exc)


@sandbox_bp.after_request
def hub_cors(response: Response) -> Response:
    """The Hub may run on another origin than its ``base-url`` (it sends no cookie)."""
    if request.path.startswith(f"{URL_PREFIX}/hub/"):
        response.headers["Access-Control-Allow-Origin"] = "*"
        response.headers["Access-Control-Allow-Headers"] = HUB_HEADERS
        response.headers["Access-Control-Allow-Methods"] = "GET, POST, PATCH, DELETE, OPTIONS"
        response.headers["Access-Control-Max-Age"] = "600"
    return response


@sandbox_bp.before_app_request
def learn_public_url() -> None:
    """Every request a real server serves teaches the sandbox the app's public URL."""
    box = get_sandbox()
    if box is not None:
        box.learn()


@sandbox_bp.before_app_request
def api_routing_error() -> Response | None:
    """A request under the sandbox's API paths that matches no route or method answers
    StackOne's JSON error, not Flask's HTML page. Only these paths: the host app's own
    error handlers keep every other path."""
    exc = request.routing_exception
    if getattr(exc, "code", None) not in (404, 405):
        return None
    path = request.path.removeprefix(URL_PREFIX)
    if path == request.path or not any(
        path == api_path or path.startswith(f"{api_path}/") for api_path in API_PATHS
    ):
        return None
    if not isinstance(exc, HTTPException) or exc.code is None:
        return None
    response = api.failure(SandboxError(exc.code, exc.name))
    if isinstance(exc, MethodNotAllowed) and exc.valid_methods:
        response.headers["Allow"] = ", ".join(exc.valid_methods)
    return hub_cors(response)
