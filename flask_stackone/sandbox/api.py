"""The emulated JSON APIs: StackOne's platform API (HTTP Basic with the API key) and
the Hub's own calls (``x-hub-session-token``), with StackOne's shapes and errors."""

from __future__ import annotations

import hmac
import json
import re
import secrets
import time
from typing import Any

from flask import Response, jsonify, request, url_for

from ..core.models import CATEGORIES
from . import accounts
from .accounts import SandboxError, public
from .connectors import BY_INTEGRATION_ID, BY_KEY, CONNECTORS, Connector, models_of, offered
from .state import Sandbox, get_sandbox, now_iso

MAX_BODY = 64 * 1024
#: The longest ``expires_in`` a session may ask for (30 days).
MAX_EXPIRES_IN = 30 * 86400
#: An OAuth attempt nobody completes expires after this many seconds.
ATTEMPT_LIFETIME = 600
SESSION_FIELDS = {
    "origin_owner_id", "origin_owner_name", "origin_username", "provider", "categories",
    "account_id", "expires_in", "metadata", "multiple", "label", "type",
    "connector_profile_id", "integration_id",
}  # fmt: skip


def answer(data: Any, status: int = 200) -> Response:
    response = jsonify(data)
    response.status_code = status
    response.headers["Cache-Control"] = "no-store"
    return response


def failure(exc: SandboxError) -> Response:
    return answer(exc.body(), exc.status)


def sandbox() -> Sandbox:
    found = get_sandbox()
    assert found is not None  # the blueprint is only registered by create_app()
    return found


def json_body() -> dict[str, Any]:
    """The request's JSON object. :raises SandboxError: 413, or 400 when not an object."""
    if (request.content_length or 0) > MAX_BODY:
        raise SandboxError(413, "request body is too large")
    raw = request.stream.read(MAX_BODY + 1)
    if len(raw) > MAX_BODY:
        raise SandboxError(413, "request body is too large")
    try:
        data = json.loads(raw or b"{}")
    except (ValueError, RecursionError):
        raise SandboxError(400, "request body is not valid JSON") from None
    if not isinstance(data, dict):
        raise SandboxError(400, "request body must be a JSON object")
    return data


def require_api_key() -> None:
    """HTTP Basic with the API key as user name. :raises SandboxError: 401."""
    try:
        auth = request.authorization
    except ValueError:  # Werkzeug 2.3 raises on a malformed Basic header (bad base64)
        auth = None
    if auth is None or auth.type != "basic" or not auth.username:
        raise SandboxError(401, "Unauthorized: send the API key as the Basic auth user name")
    if not hmac.compare_digest(auth.username.encode(), sandbox().api_key.encode()):
        raise SandboxError(401, "Unauthorized: invalid API key")


def hub_session() -> dict[str, Any]:
    """The session of ``x-hub-session-token``. :raises SandboxError: 401 unknown or expired."""
    found = sandbox().store.live_session(request.headers.get("x-hub-session-token", ""))
    if found is None:
        raise SandboxError(401, "Invalid or expired session token")
    return found[0]


def session_answer(session: dict[str, Any]) -> dict[str, Any]:
    """A session as ``POST /connect_sessions`` answers it."""
    data = {k: v for k, v in session.items() if v is not None and k != "multiple"}
    data["auth_link_url"] = url_for(
        "stackone_sandbox.auth_link", token=session["token"], _external=True
    )
    return data


# -- platform API --------------------------------------------------------------------------


def _check_session_body(body: dict[str, Any]) -> dict[str, Any]:
    """Check a ``ConnectSessionCreate`` body; every optional field may be ``null`` (absent)."""
    body = {k: v for k, v in body.items() if v is not None}
    if "provider_version" in body:
        raise SandboxError(400, "provider_version is deprecated and can no longer be used")
    unknown = sorted(set(body) - SESSION_FIELDS)
    if unknown:
        raise SandboxError(400, f"property {unknown[0]} should not exist")
    for key in ("origin_owner_id", "origin_owner_name"):
        value = body.get(key)
        if not isinstance(value, str) or not value.strip() or len(value) > 255:
            raise SandboxError(400, f"{key} must be a non-empty string")
    for key in ("origin_username", "provider", "account_id", "label", "connector_profile_id",
                "integration_id"):  # fmt: skip
        if key in body and (not isinstance(body[key], str) or len(body[key]) > 255):
            raise SandboxError(400, f"{key} must be a string of at most 255 characters")
    if "provider" in body and body["provider"] not in BY_KEY:
        raise SandboxError(400, f"provider {body['provider']!r} is not enabled for this project")
    categories = body.get("categories")
    if categories is not None and (
        not isinstance(categories, list)
        or not all(isinstance(c, str) and c in CATEGORIES for c in categories)
    ):
        raise SandboxError(400, f"each value in categories must be one of {sorted(CATEGORIES)}")
    expires_in = body.get("expires_in", 1800)
    if isinstance(expires_in, bool) or not isinstance(expires_in, int):
        raise SandboxError(400, "expires_in must be an integer number of seconds")
    if not 1 <= expires_in <= MAX_EXPIRES_IN:
        raise SandboxError(400, f"expires_in must be between 1 and {MAX_EXPIRES_IN}")
    if "metadata" in body and not isinstance(body["metadata"], dict):
        raise SandboxError(400, "metadata must be an object")
    if "multiple" in body and not isinstance(body["multiple"], bool):
        raise SandboxError(400, "multiple must be a boolean")
    if "type" in body and body["type"] not in ("production", "test"):
        raise SandboxError(400, "type must be one of production, test")
    both = body.get("connector_profile_id"), body.get("integration_id")
    if None not in both and both[0] != both[1]:
        raise SandboxError(400, "connector_profile_id and integration_id differ")
    if "account_id" in body and sandbox().store.account(body["account_id"]) is None:
        raise SandboxError(404, "Account not found")
    return {**body, "expires_in": expires_in}


def create_connect_session() -> Response:
    """``POST /connect_sessions`` -> 201 with ``token`` and ``auth_link_url``."""
    require_api_key()
    body = _check_session_body(json_body())
    box = sandbox()
    data = {
        **body,
        "organization_id": box.organization_id,
        "project_id": box.project_id,
        "created_at": now_iso(),
    }
    session = box.store.add_session(data, time.time() + body["expires_in"])
    return answer(session_answer(session), 201)


def authenticate_connect_session() -> Response:
    """``POST /connect_sessions/authenticate`` -> 201 with the session of ``token``, as
    StackOne answers it: without ``token`` and ``auth_link_url``, with the session's
    ``latest_connection_attempt`` (``null`` before any)."""
    require_api_key()
    token = json_body().get("token")
    found = sandbox().store.live_session(token) if isinstance(token, str) else None
    if found is None:
        raise SandboxError(400, "Invalid or expired session token")
    session = found[0]
    data = {k: v for k, v in session.items() if v is not None and k not in ("multiple", "token")}
    attempt = sandbox().store.latest_attempt(session["id"])
    data["latest_connection_attempt"] = (
        None
        if attempt is None
        else {"id": attempt["id"], "status": attempt["status"], "account_id": attempt["account_id"]}
    )
    return answer(data, 201)


def _list_arg(name: str) -> list[str]:
    return [v for raw in request.args.getlist(name) for v in raw.split(",") if v]


def _int_arg(name: str, default: int, maximum: int) -> int:
    raw = request.args.get(name)
    if raw is None:
        return default
    if not re.fullmatch(r"[0-9]{1,7}", raw) or not 1 <= int(raw) <= maximum:
        raise SandboxError(400, f"{name} must be an integer between 1 and {maximum}")
    return int(raw)


def list_accounts() -> Response:
    """``GET /accounts``: a bare JSON array, filtered and paged like StackOne's.

    ``origin_owner_id`` and the repeated ``origin_owner_ids`` together name the owners
    wanted; ``provider`` (deprecated) and ``providers`` the connectors.
    """
    require_api_key()
    page = _int_arg("page", 1, 1_000_000)
    page_size = _int_arg("page_size", 25, 1000)
    owners = set(request.args.getlist("origin_owner_ids"))  # an id may hold a comma
    owners.update(request.args.getlist("origin_owner_id"))
    providers = set(_list_arg("providers")) | set(_list_arg("provider"))
    ids, statuses = set(_list_arg("account_ids")), set(_list_arg("status"))
    found = [
        public(a)
        for a in sandbox().store.accounts()
        if (not owners or a.get("origin_owner_id") in owners)
        and (not providers or a["provider"] in providers)
        and (not ids or a["id"] in ids)
        and (not statuses or a["status"] in statuses)
    ]
    return answer(found[(page - 1) * page_size : page * page_size])


def account_or_404(account_id: str) -> dict[str, Any]:
    """The stored account. :raises SandboxError: 404, StackOne's "Account not found"."""
    account = sandbox().store.account(account_id)
    if account is None:
        raise SandboxError(404, "Account not found")
    return account


def account(account_id: str) -> Response:
    """``GET | PATCH | DELETE /accounts/{id}``."""
    require_api_key()
    found = account_or_404(account_id)
    if request.method == "PATCH":
        return answer(public(accounts.update(sandbox(), found, json_body())))
    if request.method == "DELETE":
        return answer(public(accounts.delete(sandbox(), found)))
    return answer(public(found))


def account_meta(account_id: str) -> Response:
    """``GET /accounts/{id}/meta``: the account's connector, category and data models."""
    require_api_key()
    connector = BY_KEY[account_or_404(account_id)["provider"]]
    category = connector.categories[0]
    return answer({"provider": connector.key, "category": category, "models": models_of(category)})


#: The values ``include`` may list on ``GET /connectors/meta``.
META_INCLUDES = frozenset(
    {"field_path", "unmapped_fields", "resources", "inactive", "webhooks", "static_fields"}
)


def _includes() -> set[str]:
    wanted = set(_list_arg("include"))
    unknown = sorted(wanted - META_INCLUDES)
    if unknown:
        raise SandboxError(
            400, f"include must list some of {', '.join(sorted(META_INCLUDES))}; got {unknown[0]!r}"
        )
    return wanted


def _connector_meta(connector: Connector, includes: set[str]) -> dict[str, Any]:
    """A connector as ``GET /connectors/meta`` shows it; ``resources`` (its logos) only
    when ``include`` asks for them, as StackOne does."""
    category = connector.categories[0]
    data: dict[str, Any] = {
        "provider": connector.key,
        "provider_name": connector.name,
        "category": category,
        "active": True,
        "models": models_of(category),
    }
    if "resources" in includes:
        logo = url_for("stackone_sandbox.logo", key=connector.key, _external=True)
        data["resources"] = {"images": {"logo_url": logo, "original_logo_horizontal_url": logo}}
    return data


def connectors_meta() -> Response:
    """``GET /connectors/meta``: every connector of the project (the seeded ones)."""
    require_api_key()
    includes = _includes()
    return answer([_connector_meta(c, includes) for c in CONNECTORS])


def connector_meta(provider: str) -> Response:
    """``GET /connectors/meta/{provider}``; 404 when unknown."""
    require_api_key()
    includes = _includes()
    connector = BY_KEY.get(provider)
    if connector is None:
        raise SandboxError(404, f"Connector {provider[:100]!r} not found")
    return answer(_connector_meta(connector, includes))


# -- the Hub's calls -----------------------------------------------------------------------


def _integration(connector: Connector) -> dict[str, Any]:
    return {
        "integration_id": connector.integration_id,
        "provider": connector.key,
        "name": connector.name,
        "type": connector.categories[0],
        "active": True,
        "authentication_config_key": connector.auth_key,
        "environment": "production",
        "logo_url": url_for("stackone_sandbox.logo", key=connector.key, _external=True),
        "version": "1.0.0",
    }


def offered_connector(session: dict[str, Any], integration_id: Any) -> Connector:
    """The connector ``integration_id`` if this session may link it. :raises SandboxError: 404."""
    connector = BY_INTEGRATION_ID.get(integration_id) if isinstance(integration_id, str) else None
    if connector is None or connector not in offered(session):
        raise SandboxError(404, "Integration not found")
    return connector


def _session_account(session: dict[str, Any], account_id: str) -> dict[str, Any]:
    """An account the session's owner may re-connect. :raises SandboxError: 404."""
    found = sandbox().store.account(account_id)
    if found is None or found.get("origin_owner_id") != session["origin_owner_id"]:
        raise SandboxError(404, "Account not found")
    return found


def not_emulated(**_: Any) -> Response:
    """StackOne's unified, actions, proxy and MCP APIs: not emulated (501)."""
    require_api_key()
    raise SandboxError(
        501,
        "Not implemented: the sandbox emulates account linking only (sessions, accounts, "
        "connectors meta, the Hub)",
    )


def hub_settings() -> Response:
    session = hub_session()
    data: dict[str, Any] = {"enabled_features": []}
    if session.get("account_id"):
        data["existing_account_id"] = session["account_id"]
    return answer(data)


def hub_connectors() -> Response:
    session = hub_session()
    provider = request.args.get("provider") or None
    return answer({"integrations": [_integration(c) for c in offered(session, provider)]})


def hub_connector(integration_id: str) -> Response:
    connector = offered_connector(hub_session(), integration_id)
    logo = url_for("stackone_sandbox.logo", key=connector.key, _external=True)
    return answer({"config": connector.hub_config(logo), "hub_settings": {}})


def hub_create_account() -> Response:
    session = hub_session()
    body = json_body()
    connector = offered_connector(session, body.get("integration_id"))
    if connector.oauth:
        raise SandboxError(
            400, f"{connector.name} connects through OAuth: start a connection attempt"
        )
    linked = accounts.link(sandbox(), session, connector, body.get("credentials"))
    return answer({"id": linked["id"], "provider": linked["provider"]}, 201)


def hub_account(account_id: str) -> Response:
    session = hub_session()
    found = _session_account(session, account_id)
    if request.method == "PATCH":
        body = json_body()
        connector = offered_connector(session, body.get("integration_id", found["_integration_id"]))
        if connector.key != found["provider"]:
            raise SandboxError(400, "integration_id does not match this account's provider")
        found = accounts.reconnect(sandbox(), found, connector, body.get("credentials"))
        return answer({"id": found["id"], "provider": found["provider"]})
    connector = BY_KEY[found["provider"]]
    return answer(
        {
            "secureId": found["id"],
            "provider": found["provider"],
            "integrationId": found["_integration_id"],
            "authConfigKey": found.get("_auth_config_key") or connector.auth_key,
            "environment": found.get("_environment") or "production",
            "setupInformation": found.get("setup_information") or {},
        }
    )


def create_attempt(session: dict[str, Any]) -> dict[str, Any]:
    """A new pending OAuth connection attempt of ``session``."""
    attempt = {
        "id": f"sbx_att_{secrets.token_hex(8)}",
        "session_id": session["id"],
        "status": "pending",
        "account_id": None,
        "error": None,
        "created": time.time(),
    }
    sandbox().store.save_attempt(attempt)
    return attempt


def session_attempt(session: dict[str, Any], attempt_id: str) -> dict[str, Any]:
    """The attempt if it belongs to ``session``; a pending one past its lifetime is
    ``expired``. :raises SandboxError: 404."""
    attempt = sandbox().store.attempt(attempt_id)
    if attempt is None or attempt["session_id"] != session["id"]:
        raise SandboxError(404, "Connection attempt not found")
    if attempt["status"] == "pending" and time.time() - attempt["created"] > ATTEMPT_LIFETIME:
        attempt["status"] = "expired"
        sandbox().store.save_attempt(attempt)
    return attempt


def hub_create_attempt() -> Response:
    session = hub_session()
    token = json_body().get("token")
    if token != session["token"]:
        raise SandboxError(400, "token must be this session's token")
    return answer({"id": create_attempt(session)["id"]}, 201)


def hub_attempt(attempt_id: str) -> Response:
    attempt = session_attempt(hub_session(), attempt_id)
    if request.method == "DELETE" and attempt["status"] == "pending":
        attempt["status"] = "cancelled"
        sandbox().store.save_attempt(attempt)
    return answer(
        {
            "id": attempt["id"],
            "status": attempt["status"],
            "account": {"id": attempt["account_id"]} if attempt["account_id"] else None,
            "error": attempt["error"],
        }
    )
