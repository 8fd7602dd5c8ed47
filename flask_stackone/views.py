"""The blueprint's JSON routes: connect session, confirm and webhooks.

Every answer is JSON; errors are ``{"error": code, "message": text}`` and never carry
the API key, a webhook secret or StackOne's raw answer.
"""

from __future__ import annotations

import json
import logging
import re
import time
from datetime import datetime, timezone
from typing import Any

from flask import Response, current_app, jsonify, request
from werkzeug.exceptions import RequestEntityTooLarge

from . import errors, signals
from .config import SLUG, Settings
from .models import CATEGORIES, AccountEvent, ConnectSession, Owner, SessionCreated
from .state import StackOneState, get_state
from .webhooks import SIGNATURE_HEADER, parse_event, verify_signature

log = logging.getLogger("flask_stackone")

REQUEST_HEADER = "X-StackOne-Request"
ACCOUNT_ID = re.compile(r"^(?!\.{1,2}$)[A-Za-z0-9_.:-]{1,128}$")  # never "." or ".."
MAX_OPTIONS_BYTES = 16 * 1024


def json_error(status: int, code: str, message: str, **headers: str) -> Response:
    response = jsonify(error=code, message=message)
    response.status_code = status
    response.headers["Cache-Control"] = "no-store"
    response.headers.update(headers)
    return response


def stackone_failure(exc: errors.StackOneError) -> Response:
    """The answer to the browser when StackOne failed: never StackOne's 401 passed through."""
    log.warning("StackOne call failed: %s", exc)
    ref = f" (StackOne request id {exc.request_id})" if exc.request_id else ""
    if isinstance(exc, errors.AuthenticationError):
        return json_error(502, "stackone_auth_failed", "StackOne refused this app's API key" + ref)
    if isinstance(exc, errors.RateLimitedError):
        retry = str(max(1, round(exc.retry_after or 1)))
        return json_error(
            503, "stackone_rate_limited", "StackOne is rate limiting; try again shortly",
            **{"Retry-After": retry},
        )  # fmt: skip
    if isinstance(exc, errors.StackOneTimeout):
        return json_error(504, "stackone_timeout", "StackOne did not answer in time")
    return json_error(502, "stackone_unavailable", "StackOne could not complete the request" + ref)


def _state() -> StackOneState:
    return get_state(name=request.blueprint or "stackone")


def _current_owner(state: StackOneState) -> Owner | None:
    loader = state.blueprint.owner_loader_func
    if loader is None:
        raise errors.ConfigurationError(
            "no owner loader: decorate a function with @stackone_bp.owner_loader"
        )
    owner = current_app.ensure_sync(loader)()
    if owner is not None and not isinstance(owner, Owner):
        raise TypeError(f"owner_loader must return an Owner or None, not {type(owner).__name__}")
    return owner


def _guard(state: StackOneState) -> Response | Owner:
    """Checks shared by the browser-facing routes: header, configuration, owner."""
    if request.headers.get(REQUEST_HEADER) != "1":
        return json_error(403, "missing_request_header", f"send the header {REQUEST_HEADER}: 1")
    try:
        owner = _current_owner(state)
        state.client  # noqa: B018 - raises ConfigurationError when no key is set
    except errors.ConfigurationError as exc:
        log.error("flask-stackone is not configured: %s", exc)
        return json_error(503, "not_configured", str(exc))
    if owner is None:
        return json_error(401, "not_signed_in", "sign in to link accounts")
    return owner


def read_body(limit: int, what: str = "request body") -> bytes | Response:
    """At most ``limit`` bytes of the raw body; a 413 when larger (by Content-Length or
    actual size: Werkzeug would silently truncate), a 400 when the body breaks off or its
    chunked framing is invalid."""

    def too_large() -> Response:
        return json_error(413, "too_large", f"{what} is larger than {limit} bytes")

    if (request.content_length or 0) > limit:
        return too_large()
    try:
        body = request.stream.read(limit + 1)
    except RequestEntityTooLarge:
        return too_large()
    except Exception as exc:  # each server has its own: OSError, ClientDisconnected, gunicorn's
        log.info("unreadable %s: %s", what, type(exc).__name__)
        return json_error(400, "invalid_body", f"{what} is incomplete or malformed")
    return too_large() if len(body) > limit else body


def _options() -> dict[str, Any] | Response:
    """The request's JSON object of options; empty body means no options."""
    raw = read_body(MAX_OPTIONS_BYTES)
    if isinstance(raw, Response):
        return raw
    if not raw.strip():
        return {}
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError):
        return json_error(400, "invalid_json", "request body is not valid JSON")
    if not isinstance(data, dict):
        return json_error(400, "invalid_json", "request body must be a JSON object")
    return data


def _check_options(state: StackOneState, data: dict[str, Any]) -> dict[str, Any] | Response:
    try:
        return check_options(state.settings, data)
    except errors.InvalidOptionError as exc:
        return json_error(400, exc.code, str(exc))


def check_options(settings: Settings, data: dict[str, Any]) -> dict[str, Any]:
    """Validate ``provider``, ``categories`` and ``account_id`` against the allow-lists.

    :raises InvalidOptionError: naming the first bad option.
    """
    provider = data.get("provider")
    if provider is not None:
        if not isinstance(provider, str) or not SLUG.match(provider):
            raise errors.InvalidOptionError("invalid_provider", "provider must be a connector key")
        if settings.providers is not None and provider not in settings.providers:
            raise errors.InvalidOptionError(
                "provider_not_allowed", f"provider {provider!r} is not offered"
            )
    categories = data.get("categories")
    if categories is not None:
        if isinstance(categories, str):
            categories = [categories]
        if not isinstance(categories, list) or not all(isinstance(c, str) for c in categories):
            raise errors.InvalidOptionError(
                "invalid_category", "categories must be a list of strings"
            )
        allowed = settings.categories if settings.categories is not None else CATEGORIES
        bad = [c for c in categories if c not in allowed]
        if bad:
            raise errors.InvalidOptionError(
                "invalid_category", f"category not offered: {bad[0][:64]!r}"
            )
        categories = sorted(set(categories))
    if not categories and settings.categories is not None:  # [] must not widen the allow-list
        categories = sorted(settings.categories)
    account_id = data.get("account_id")
    if account_id is not None and (
        not isinstance(account_id, str) or not ACCOUNT_ID.match(account_id)
    ):
        raise errors.InvalidOptionError(
            "invalid_account_id", "account_id must be a StackOne account id"
        )
    return {"provider": provider, "categories": categories or None, "account_id": account_id}


def _owned_account(state: StackOneState, owner: Owner, account_id: str) -> Any:
    """The account if it belongs to ``owner``; otherwise the error answer."""
    try:
        account = state.client.get_account(account_id)
    except ValueError:
        return json_error(400, "invalid_account_id", "not a StackOne account id")
    except errors.NotFoundError:
        return json_error(404, "account_not_found", "no such account")
    except errors.StackOneError as exc:
        return stackone_failure(exc)
    if account.origin_owner_id != owner.id:
        log.warning("owner %s asked for account %s of another owner", owner.id, account_id)
        return json_error(403, "foreign_account", "this account belongs to another customer")
    return account


def connect_session() -> Response:
    """POST: create a Connect Session for the signed-in owner; answer its token."""
    state = _state()
    owner = _guard(state)
    if isinstance(owner, Response):
        return owner
    data = _options()
    if isinstance(data, Response):
        return data
    options = _check_options(state, data)
    if isinstance(options, Response):
        return options
    if options["account_id"]:
        account = _owned_account(state, owner, options["account_id"])
        if isinstance(account, Response):
            return account
        options["provider"] = options["provider"] or account.provider
    try:
        session = create_session(state, owner, state.settings.session_expires_in, **options)
    except errors.StackOneError as exc:
        return stackone_failure(exc)
    return session_answer(session)


def create_session(
    state: StackOneState,
    owner: Owner,
    expires_in: int,
    *,
    provider: str | None = None,
    categories: list[str] | None = None,
    account_id: str | None = None,
) -> ConnectSession:
    """Create a Connect Session for ``owner`` (options already checked) and send the
    ``connect_session_created`` audit signal. :raises StackOneError: StackOne failed."""
    session = state.client.create_connect_session(
        origin_owner_id=owner.id,
        origin_owner_name=owner.name,
        origin_username=owner.username,
        expires_in=expires_in,
        provider=provider,
        categories=categories,
        account_id=account_id,
    )
    signals.send(
        signals.connect_session_created,
        current_app._get_current_object(),  # type: ignore[attr-defined]
        SessionCreated(
            session_id=session.id,
            owner_id=owner.id,
            provider=provider,
            categories=tuple(categories or ()),
            account_id=account_id,
            expires_at=session.expires_at,
        ),
    )
    return session


def session_answer(session: ConnectSession) -> Response:
    """The token route's answer: ``{token, expires_in, expires_at}``, never cached."""
    assert session.expires_at is not None
    response = jsonify(
        token=session.token,
        expires_in=session.expires_in,
        expires_at=session.expires_at.isoformat(timespec="seconds").replace("+00:00", "Z"),
    )
    response.headers["Cache-Control"] = "no-store"
    return response


def confirm_account(account_id: str) -> Response:
    """POST: the Hub reported success; check the account with StackOne, then signal."""
    state = _state()
    owner = _guard(state)
    if isinstance(owner, Response):
        return owner
    if not ACCOUNT_ID.match(account_id):
        return json_error(400, "invalid_account_id", "not a StackOne account id")
    data = _options()
    if isinstance(data, Response):
        return data
    reconnect = data.get("reconnect", False)
    if not isinstance(reconnect, bool):
        return json_error(400, "invalid_reconnect", "reconnect must be true or false")
    account = _owned_account(state, owner, account_id)
    if isinstance(account, Response):
        return account
    event = AccountEvent(
        type="account.updated" if reconnect else "account.created",
        account_id=account.id,
        provider=account.provider,
        owner_id=account.origin_owner_id,
        owner_name=account.origin_owner_name,
        username=account.origin_username,
        event_date=datetime.now(timezone.utc),
        source="hub",
        raw=account.raw,
    )
    signal = signals.account_updated if reconnect else signals.account_created
    try:
        signals.send(signal, current_app._get_current_object(), event)  # type: ignore[attr-defined]
    except Exception:
        log.exception("%s receiver failed for account %s (source hub)", event.type, account.id)
        return json_error(500, "receiver_failed", "the account is linked but could not be recorded")
    response = jsonify(account.summary())
    response.headers["Cache-Control"] = "no-store"
    return response


def _acknowledged(body: bytes) -> Response:
    """A webhook's 200: fixed bytes, built without the JSON encoder (a hot path)."""
    return Response(body, mimetype="application/json")


def webhook() -> Response:
    """POST: a StackOne webhook. Verify, parse, deduplicate, then send the signals."""
    state = _state()
    settings = state.settings
    if not settings.webhook_secret:
        log.error("webhook refused: %s is not set", settings.name("webhook_secret"))
        return json_error(
            503, "not_configured", f"{settings.name('webhook_secret')} is not set on this server"
        )
    body = read_body(settings.webhook_max_bytes, "webhook body")
    if isinstance(body, Response):
        return body
    try:
        verify_signature(body, request.headers.get(SIGNATURE_HEADER), settings.webhook_secret)
    except errors.SignatureVerificationError as exc:
        log.warning("webhook refused: %s", exc)
        return json_error(401, "invalid_signature", "signature verification failed")
    try:
        event = parse_event(body)
    except errors.InvalidPayloadError as exc:
        return json_error(400, "invalid_payload", str(exc))
    store = state.delivery_store
    key = event.delivery_key
    assert key is not None
    deadline = time.monotonic() + settings.delivery_wait
    while (claim := store.claim(key)) == "busy" and time.monotonic() < deadline:
        time.sleep(0.05)
    if claim == "done":
        return _acknowledged(b'{"duplicate":true,"ok":true}\n')
    if claim == "busy":
        return json_error(409, "in_progress", "this delivery is being handled; retry later")
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    try:
        signals.send(signals.webhook_received, app, event)
        typed = signals.BY_EVENT_TYPE.get(event.type)
        if typed is not None:
            signals.send(typed, app, event)
    except Exception:
        store.release(key)
        log.exception(
            "webhook receiver failed for %s (account %s); answering 500 so StackOne redelivers",
            event.type,
            event.account_id,
        )
        return json_error(
            500, "receiver_failed", "a receiver failed; the event will be redelivered"
        )
    store.remember(key)
    return _acknowledged(b'{"ok":true}\n')
