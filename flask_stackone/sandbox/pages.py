"""The sandbox's HTML pages: the OAuth sign-in popup, the hosted auth-link page, the
dashboard and its actions, and the connectors' logos."""

from __future__ import annotations

import re
import time
from datetime import datetime, timezone
from typing import Any
from urllib.parse import urlencode, urlsplit

from flask import Response, abort, redirect, render_template, request, url_for
from werkzeug.wrappers import Response as BaseResponse

from ..core.models import format_datetime
from . import accounts, assets
from .accounts import STATUSES, SandboxError
from .api import (
    account_or_404,
    answer,
    create_attempt,
    offered_connector,
    sandbox,
    session_attempt,
)
from .connectors import BY_KEY, Connector, logo_svg, offered

#: Query and form keys of the popup that are not credentials.
POPUP_KEYS = {"token", "connection_attempt_id", "redirect_uri", "action"}
#: A delivery id: SQLite's integers are signed 64-bit.
DELIVERY_ID = re.compile(r"[0-9]{1,18}")
#: Characters no URL we redirect to may hold (CR and LF would split the header).
CONTROL = re.compile(r"[\x00-\x20\x7f]")


def page(template: str, status: int = 200, **context: Any) -> Response:
    response = Response(render_template(f"stackone_sandbox/{template}", **context), status)
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Robots-Tag"] = "noindex"
    return response


def error_page(status: int, message: str) -> Response:
    return page("message.html", status, title="Sandbox: request refused", message=message)


def logo(key: str) -> Response:
    connector = BY_KEY.get(key)
    if connector is None:
        abort(404)
    response = Response(logo_svg(connector), mimetype="image/svg+xml")
    response.headers["Cache-Control"] = "public, max-age=86400"
    return response


def _live_session(token: str | None) -> tuple[dict[str, Any], float]:
    """``(session, expires_at)`` of ``token`` while it lives. :raises SandboxError: 401."""
    found = sandbox().store.live_session(token or "")
    if found is None:
        raise SandboxError(401, "This link is not valid or has expired: ask for a new one.")
    return found


def _same_origin(url: str) -> bool:
    """``url`` is an http(s) URL on this host, with no control character or space in it."""
    if CONTROL.search(url):
        return False
    try:
        target, here = urlsplit(url), urlsplit(request.host_url)
    except ValueError:  # an invalid IPv6 host
        return False
    return (target.scheme, target.netloc) == (here.scheme, here.netloc)


# -- the OAuth popup -----------------------------------------------------------------------


def oauth_popup(integration_id: str) -> BaseResponse:
    """``/connect/oauth2/{integration_id}``: the provider's sign-in page, emulated. GET shows
    it; POST with ``action=authorize`` links the account and completes the attempt,
    ``action=deny`` ends the attempt with ``access_denied``."""
    values = request.values
    try:
        session, _ = _live_session(values.get("token"))
        connector = offered_connector(session, integration_id)
        if not connector.oauth:
            raise SandboxError(400, f"{connector.name} does not connect through OAuth.")
        attempt = session_attempt(session, values.get("connection_attempt_id", ""))
    except SandboxError as exc:
        return error_page(exc.status, exc.message)
    if attempt["status"] != "pending":
        return error_page(409, f"This connection attempt is already {attempt['status']}.")
    redirect_uri = values.get("redirect_uri", "")
    if redirect_uri and not _same_origin(redirect_uri):
        return error_page(400, "redirect_uri must be a URL of this sandbox.")
    credentials = {k: v for k, v in values.items() if k not in POPUP_KEYS}
    if request.method == "GET":
        return page(
            "oauth.html",
            connector=connector,
            credentials=credentials,
            hidden={
                k: values.get(k, "") for k in ("token", "connection_attempt_id", "redirect_uri")
            },
        )
    if values.get("action") == "authorize":
        try:
            linked = accounts.link(sandbox(), session, connector, credentials)
        except SandboxError as exc:
            attempt.update(
                status="error", error={"code": "invalid_credentials", "description": exc.message}
            )
        else:
            attempt.update(status="authenticated", account_id=linked["id"])
    else:
        attempt.update(
            status="error",
            error={
                "code": "access_denied",
                "description": f"Access to {connector.name} was denied",
            },
        )
    sandbox().store.save_attempt(attempt)
    if redirect_uri:
        query = urlencode({"status": attempt["status"], "attempt": attempt["id"]})
        return redirect(f"{redirect_uri}{'&' if '?' in redirect_uri else '?'}{query}", 303)
    return callback(attempt["status"])


def callback(status: str | None = None) -> Response:
    """``/embedded/accounts/callback``: where the popup lands (the Hub closes it)."""
    status = status or request.args.get("status", "")
    done = status == "authenticated"
    return page(
        "message.html",
        title="Account connected" if done else "Connection not completed",
        message="You can close this window."
        if done
        else f"The attempt ended: {status or 'unknown'}.",
    )


# -- the hosted auth-link page -------------------------------------------------------------


def auth_link(token: str) -> BaseResponse:
    """The page ``auth_link_url`` opens: pick a connector, fill in its form, link."""
    try:
        session, _ = _live_session(token)
    except SandboxError as exc:
        return error_page(exc.status, exc.message)
    hub = assets.hub_source()
    if request.method == "GET" and "form" not in request.args and hub is not None:
        return page(
            "auth_link_hub.html",
            session=session,
            token=token,
            hub_src=hub[0],
            integrity=hub[1],
            base_url=url_for("stackone_sandbox.dashboard", _external=True).rstrip("/"),
        )
    choices = offered(session)
    chosen: Connector | None = choices[0] if len(choices) == 1 else None
    integration_id = request.values.get("integration")
    if integration_id:
        try:
            chosen = offered_connector(session, integration_id)
        except SandboxError as exc:
            return error_page(exc.status, exc.message)
    error = None
    if chosen is not None and request.method == "POST":
        credentials = {k: v for k, v in request.form.items() if k != "integration"}
        if chosen.oauth:
            attempt = create_attempt(session)
            query = urlencode(
                {
                    **credentials,
                    "token": token,
                    "connection_attempt_id": attempt["id"],
                    "redirect_uri": url_for("stackone_sandbox.callback", _external=True),
                }
            )
            return redirect(
                url_for("stackone_sandbox.oauth_popup", integration_id=chosen.integration_id)
                + "?" + query,
                303,
            )  # fmt: skip
        try:
            linked = accounts.link(sandbox(), session, chosen, credentials)
        except SandboxError as exc:
            error = exc.body().get("provider_response") or exc.message
        else:
            return page("linked.html", account=linked, connector=chosen)
    return page(
        "auth_link.html",
        422 if error else 200,
        session=session,
        choices=choices,
        chosen=chosen,
        error=error,
        values=request.form,
    )


def auth_link_session(token: str) -> Response:
    """POST from the Hub glue on the auth-link page: this link's own session token."""
    try:
        _, expires = _live_session(token)
    except SandboxError as exc:
        return answer({"error": "invalid_session", "message": exc.message}, exc.status)
    expires_at = datetime.fromtimestamp(expires, timezone.utc)
    return answer(
        {
            "token": token,
            "expires_in": max(1, int(expires - time.time())),
            "expires_at": format_datetime(expires_at, "seconds"),
        }
    )


# -- the dashboard -------------------------------------------------------------------------


def _refuse_cross_site() -> None:
    """The dashboard's forms have no CSRF token: refuse posts from another site."""
    origin = request.headers.get("Origin")
    if request.headers.get("Sec-Fetch-Site") == "cross-site" or (
        origin and not _same_origin(origin + "/")  # "null" (a sandboxed frame) is refused too
    ):
        abort(403)


def dashboard() -> Response:
    box = sandbox()
    return page(
        "dashboard.html",
        sessions=box.store.sessions(),
        accounts=box.store.accounts(),
        deliveries=box.store.deliveries(),
        statuses=STATUSES,
        webhook_url=box.webhook_url(),
        now=time.time(),
        max_attempts=box.deliverer.attempts,
    )


# The two account forms post under /accounts/, StackOne's API path: their errors are
# StackOne's JSON errors, like every answer under that path.


def set_account_status(account_id: str) -> BaseResponse:
    """Dashboard: set an account's status as if the provider changed it."""
    _refuse_cross_site()
    box = sandbox()
    account = account_or_404(account_id)
    status = request.form.get("status", "")
    if status not in STATUSES:
        raise SandboxError(400, f"status must be one of {', '.join(STATUSES)}")
    accounts.set_status(box, account, status)
    return _back()


def delete_account(account_id: str) -> BaseResponse:
    """Dashboard: delete an account (``account.deleted``)."""
    _refuse_cross_site()
    box = sandbox()
    account = account_or_404(account_id)
    accounts.delete(box, account)
    return _back()


def retry_delivery(delivery_id: str) -> BaseResponse:
    """Dashboard: send a delivery again, with a fresh count of attempts."""
    _refuse_cross_site()
    box = sandbox()
    if not DELIVERY_ID.fullmatch(delivery_id) or not box.store.retry(int(delivery_id)):
        return error_page(404, "No such delivery.")
    box.deliverer.kick()
    return _back()


def reset_all() -> BaseResponse:
    """Dashboard: forget every session, account and delivery."""
    _refuse_cross_site()
    sandbox().store.reset()
    return _back()


def _back() -> BaseResponse:
    return redirect(url_for("stackone_sandbox.dashboard"), 303)
