"""The sandbox's routes, registered on its own app by :func:`~.app.create_app`."""

from __future__ import annotations

from flask import Blueprint, Response, request

from . import api, assets, pages

sandbox_bp = Blueprint("stackone_sandbox", __name__)

HUB_HEADERS = "Content-Type, x-hub-session-token, x-hub-version"
#: The first path segments of StackOne's JSON API: every error under them, unknown paths
#: included, is StackOne's JSON error body. A host app hands these paths to the sandbox.
API_SEGMENTS = frozenset(
    {"connect_sessions", "accounts", "connectors", "hub", "unified", "actions", "proxy", "mcp"}
)


def is_api_path(path: str) -> bool:
    """True for a path (relative to the sandbox's root) of StackOne's JSON API."""
    return path.lstrip("/").split("/", 1)[0] in API_SEGMENTS


def route(rule: str, view: object, methods: tuple[str, ...] = ("GET",), **options: object) -> None:
    sandbox_bp.add_url_rule(rule, view_func=view, methods=list(methods), **options)  # type: ignore[arg-type]


# StackOne's platform API (HTTP Basic with the API key; no CORS: server side only).
route("/connect_sessions", api.create_connect_session, ("POST",))
route("/connect_sessions/authenticate", api.authenticate_connect_session, ("POST",))
route("/accounts", api.list_accounts)
route("/accounts/<account_id>", api.account, ("GET", "PATCH", "DELETE"))
route("/accounts/<account_id>/meta", api.account_meta)
route("/connectors/meta", api.connectors_meta)
route("/connectors/meta/<provider>", api.connector_meta)
ALL_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
for segment in ("unified", "actions", "proxy", "mcp"):
    route(f"/{segment}", api.not_emulated, ALL_METHODS, endpoint=f"{segment}_root")
    route(f"/{segment}/<path:rest>", api.not_emulated, ALL_METHODS, endpoint=segment)
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
route("/hub-script/<version>/webcomponent.js", assets.hub_script)
route("/", pages.dashboard)
# The dashboard's forms (one endpoint each).
route("/accounts/<account_id>/status", pages.set_account_status, ("POST",))
route("/accounts/<account_id>/delete", pages.delete_account, ("POST",))
route("/deliveries/<delivery_id>/retry", pages.retry_delivery, ("POST",))
route("/reset", pages.reset_all, ("POST",))


def add_hub_cors(response: Response) -> Response:
    """The Hub may run on another origin than its ``base-url`` (it sends no cookie)."""
    if request.path.startswith("/hub/"):
        response.headers["Access-Control-Allow-Origin"] = "*"
        response.headers["Access-Control-Allow-Headers"] = HUB_HEADERS
        response.headers["Access-Control-Allow-Methods"] = "GET, POST, PATCH, DELETE, OPTIONS"
        response.headers["Access-Control-Max-Age"] = "600"
    return response
