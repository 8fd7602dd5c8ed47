"""The blueprint's views: thin wrappers that read the request, call a service and answer.

Every failure is raised as a typed error and turned into an answer by :func:`error_answer`:
JSON ``{"error": code, "message": text}`` for the API routes, an HTML page for the
onboarding page. No answer ever carries the API key, a webhook secret or StackOne's raw text.
"""

from __future__ import annotations

import json
import logging
from typing import Any
from urllib.parse import urlsplit

from flask import Response, current_app, jsonify, redirect, render_template, request, url_for
from werkzeug.exceptions import RequestEntityTooLarge

from . import accounts_panel, i18n
from .core import errors
from .core.connectors import provider_name
from .core.models import ConnectSession, Owner, format_datetime
from .core.webhooks import SIGNATURE_HEADER
from .error_answers import answer_for
from .services import accounts, linking, onboarding, webhook_delivery
from .services.state import StackOneState, request_state

log = logging.getLogger("flask_stackone")

#: The header only our glue script sends: another site's page cannot set it.
REQUEST_HEADER = "X-StackOne-Request"
MAX_OPTIONS_BYTES = 16 * 1024
#: Endpoints answering HTML (their errors are pages); every other route answers JSON.
HTML_ENDPOINTS = frozenset({"onboarding_page"})


# -- answers ------------------------------------------------------------------------------------


def json_error(status: int, code: str, message: str, **headers: str) -> Response:
    """A JSON error answer, never cached."""
    response = jsonify(error=code, message=message)
    response.status_code = status
    response.headers["Cache-Control"] = "no-store"
    response.headers.update(headers)
    return response


def error_answer(exc: errors.FlaskStackOneError) -> Response:
    """The blueprint's error handler, from :func:`~flask_stackone.error_answers.answer_for`:
    a page for the HTML endpoints, JSON for every other route.

    :raises FlaskStackOneError: ``exc`` again when the table has no answer for it (a 500).
    """
    answer = answer_for(exc)
    if answer is None:
        raise exc
    answer.log()
    if (request.endpoint or "").rpartition(".")[2] in HTML_ENDPOINTS:
        words = i18n.translator(request_state().settings)
        title, hint = words.gettext(answer.title), words.gettext(answer.hint)
        return page("stackone/onboarding_error.html", answer.status, title=title, message=hint)
    return json_error(answer.status, answer.code, answer.message, **answer.headers)


#: No page of the plugin may be shown in a frame: a click inside a frame posts as same-origin.
FRAME_ANCESTORS = "frame-ancestors 'none'"


def deny_framing(response: Response) -> Response:
    """Forbid every HTML answer of the blueprint to be framed, by any site (its own too):
    ``X-Frame-Options: DENY`` and a CSP ``frame-ancestors 'none'``. Only that directive is
    set, so the page's own scripts and styles are not restricted; when a view already set a
    policy without it, a second policy is added (browsers enforce both)."""
    if response.mimetype != "text/html":
        return response
    response.headers["X-Frame-Options"] = "DENY"
    policies = response.headers.getlist("Content-Security-Policy")
    if not any("frame-ancestors" in policy for policy in policies):
        response.headers.add("Content-Security-Policy", FRAME_ANCESTORS)
    return response


def page(template: str, status: int = 200, **context: Any) -> Response:
    """An onboarding page (with the host's brand, in the request's language) that is never
    cached, indexed, framed, or leaks its URL as a referrer."""
    settings = request_state().settings
    words = i18n.translator(settings)
    context.update(_=words.markup, lang=words.lang, words=words)
    context.setdefault("brand_name", settings.brand_name)
    context.setdefault("brand_logo_url", settings.brand_logo_url)
    response = Response(render_template(template, **context), status=status)
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "same-origin"
    response.headers["X-Robots-Tag"] = "noindex, nofollow"
    return deny_framing(response)


def session_answer(session: ConnectSession) -> Response:
    """The token route's answer: ``{token, expires_in, expires_at}``, never cached."""
    assert session.expires_at is not None
    response = jsonify(
        token=session.token,
        expires_in=session.expires_in,
        expires_at=format_datetime(session.expires_at, "seconds"),
    )
    response.headers["Cache-Control"] = "no-store"
    return response


# -- reading the request ------------------------------------------------------------------------


def require_header() -> None:
    """Refuse a browser request our glue script did not send."""
    if request.headers.get(REQUEST_HEADER) != "1":
        raise errors.MissingHeaderError(f"send the header {REQUEST_HEADER}: 1")


def read_body(limit: int, what: str = "request body") -> bytes:
    """At most ``limit`` bytes of the raw body, read through Werkzeug's request stream.

    The limit holds from ``Content-Length`` and, whatever the framing, by reading at most
    ``limit + 1`` bytes: Werkzeug alone would read a chunked body of any size.

    :raises BodyTooLargeError: when larger (by Content-Length or actual size).
    :raises RequestRefused: the body breaks off or its framing is invalid.
    """
    length = request.content_length
    if (length or 0) > limit:
        raise _too_large(what, limit)
    wanted = limit + 1 if length is None else length  # chunked: until it ends or is too large
    try:
        stream = request.stream
        body = stream.read(wanted)
        while len(body) < wanted and (chunk := stream.read(wanted - len(body))):
            body += chunk
    except RequestEntityTooLarge:  # the app's own MAX_CONTENT_LENGTH is lower
        raise _too_large(what, limit) from None
    except Exception as exc:  # each server has its own: OSError, ClientDisconnected, gunicorn's
        log.info("unreadable %s: %s", what, type(exc).__name__)
        raise errors.RequestRefused(
            f"{what} is incomplete or malformed", code="invalid_body"
        ) from None
    if len(body) > limit:
        raise _too_large(what, limit)
    return bytes(body)


def _too_large(what: str, limit: int) -> errors.BodyTooLargeError:
    return errors.BodyTooLargeError(f"{what} is larger than {limit} bytes")


def read_options() -> dict[str, Any]:
    """The request's JSON object of options; an empty body means no options."""
    raw = read_body(MAX_OPTIONS_BYTES)
    if not raw.strip():
        return {}
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError):
        raise errors.RequestRefused("request body is not valid JSON", code="invalid_json") from None
    if not isinstance(data, dict):
        raise errors.RequestRefused("request body must be a JSON object", code="invalid_json")
    return data


def _signed_in() -> tuple[StackOneState, Owner]:
    """The header check, the configuration check and the owner, for browser routes."""
    state = request_state()
    require_header()
    owner = linking.current_owner(state)
    state.require_client()
    if owner is None:
        raise errors.NotSignedInError("sign in to link accounts")
    return state, owner


def _cross_site() -> bool:
    """True when the browser says this POST comes from another site.

    ``Sec-Fetch-Site`` first; without it, ``Origin`` against the request's host. A
    request with neither is not from a browser that could be tricked, so it passes.
    """
    site = request.headers.get("Sec-Fetch-Site")
    if site is not None:
        return site not in ("same-origin", "none")
    origin = request.headers.get("Origin")
    return origin is not None and urlsplit(origin).netloc != request.host


# -- the routes ---------------------------------------------------------------------------------


def connect_session() -> Response:
    """POST: create a Connect Session for the signed-in owner; answer its token."""
    state, owner = _signed_in()
    return session_answer(linking.start_session(state, owner, read_options()))


def confirm_account(account_id: str) -> Response:
    """POST: the Hub reported success; check the account with StackOne, then signal."""
    state, owner = _signed_in()
    if not linking.is_account_id(account_id):
        raise errors.RequestRefused("not a StackOne account id", code="invalid_account_id")
    reconnect = read_options().get("reconnect", False)
    if not isinstance(reconnect, bool):
        raise errors.RequestRefused("reconnect must be true or false", code="invalid_reconnect")
    account = linking.confirm_account(state, owner, account_id, reconnect=reconnect)
    response = jsonify(account.summary())
    response.headers["Cache-Control"] = "no-store"
    return response


def list_accounts() -> Response:
    """GET (query ``provider``, ``categories``) or POST (the same as JSON): the signed-in
    owner's linked accounts, read from StackOne, with their connectors' names and logos.

    Answers JSON; asked for ``text/html`` (the accounts panel's script), the panel's rows,
    with the buttons named in the query's ``actions`` (``reconnect disconnect`` by default),
    of the host's classes in ``button_class`` and ``danger_button_class`` when given.
    """
    state, owner = _signed_in()
    if request.method == "POST":
        data = read_options()
    else:
        categories = [c for raw in request.args.getlist("categories") for c in raw.split(",") if c]
        data = {"provider": request.args.get("provider") or None, "categories": categories}
    listed = accounts.list_owner_accounts(state, owner, **accounts.list_options(state, data))
    if request.accept_mimetypes.best == "text/html":
        actions = request.args.get("actions", " ".join(accounts_panel.ROW_ACTIONS)).split()
        buttons = accounts_panel.button_classes(
            plain=request.args.get("button_class") or None,
            danger=request.args.get("danger_button_class") or None,
        )
        rows = accounts_panel.render_rows(listed, i18n.translator(state.settings), actions, buttons)
        response = Response(rows, mimetype="text/html")
    else:
        response = jsonify(accounts=[item.as_json() for item in listed])
    response.headers["Cache-Control"] = "no-store"
    response.vary.add("Accept")
    return response


def disconnect_account(account_id: str) -> Response:
    """POST: delete one of the signed-in owner's accounts at StackOne, then signal."""
    state, owner = _signed_in()
    if not linking.is_account_id(account_id):
        raise errors.RequestRefused("not a StackOne account id", code="invalid_account_id")
    account = accounts.disconnect(state, owner, account_id)
    response = jsonify(id=account.id, provider=account.provider, deleted=True)
    response.headers["Cache-Control"] = "no-store"
    return response


#: A webhook's answers: fixed bytes, built without the JSON encoder (a hot path).
ACKNOWLEDGED = {"handled": b'{"ok":true}\n', "duplicate": b'{"duplicate":true,"ok":true}\n'}


def webhook() -> Response:
    """POST: a StackOne webhook. Verify, parse, deduplicate, then send the signals."""
    state = request_state()
    webhook_delivery.check_configured(state)  # before reading a body nobody can verify
    body = read_body(state.settings.webhook_max_bytes, "webhook body")
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    outcome = webhook_delivery.handle_delivery(
        state, app, body, request.headers.get(SIGNATURE_HEADER)
    )
    return Response(ACKNOWLEDGED[outcome], mimetype="application/json")


def onboarding_page(signed: str) -> Response:
    """GET: show who the link is for and a "Connect" button; no other effect.
    POST (the button): create a session now and show the Hub, or redirect to StackOne."""
    state = request_state()
    grant = onboarding.open_link(state, signed)
    action = url_for(".onboarding_page", signed=signed)
    names = state.settings.provider_names
    shown = provider_name(grant.provider, names) if grant.provider else None
    if request.method != "POST":
        return page("stackone/onboarding.html", grant=grant, action=action, provider_name=shown)
    if _cross_site():
        raise errors.CrossSiteError("a POST to an onboarding link from another site")
    if state.settings.onboarding_mode == "hub":
        options = onboarding.grant_options(state, grant)
        linked = onboarding.linked_provider(state, grant)  # the account is still the owner's
        options["provider"] = options["provider"] or linked
        token_url = url_for(".onboarding_session", signed=signed)
        return page(
            "stackone/onboarding_hub.html",
            grant=grant,
            token_url=token_url,
            blueprint=state.name,
            provider_name=shown,
            **options,
        )
    session = onboarding.link_session(state, grant)
    if not session.auth_link_url:
        raise errors.InvalidResponseError("StackOne's connect session answer has no auth_link_url")
    return redirect(session.auth_link_url, 303)  # type: ignore[return-value]


def onboarding_session(signed: str) -> Response:
    """POST (JSON): a Connect Session for the link's owner, answered like the token route."""
    state = request_state()
    require_header()
    grant = onboarding.open_link(state, signed)
    state.require_client()
    return session_answer(onboarding.link_session(state, grant))
