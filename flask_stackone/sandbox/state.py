"""Installing the sandbox on an app, and what it keeps per app."""

from __future__ import annotations

import logging
import os
import secrets
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import requests
from flask import Blueprint, Flask, current_app, has_request_context, request, url_for

from ..config import DEFAULTS, Settings
from ..core.client import is_local_url
from ..core.errors import ConfigurationError
from ..core.models import format_datetime
from ..core.webhooks import build_event_body
from .delivery import Deliverer
from .store import SandboxStore
from .transport import IN_PROCESS_KEY, IN_PROCESS_URL, WSGIAdapter

log = logging.getLogger("flask_stackone.sandbox")

EXTENSION_KEY = "stackone_sandbox"
URL_PREFIX = "/stackone-sandbox"
#: Where auth links point when the app never served a request and has no SERVER_NAME.
FALLBACK_ROOT = "http://127.0.0.1:5000/"

BANNER = """
======================================================================
  STACKONE SANDBOX IS ON (%s)
  StackOne is emulated by this app at %s/ ; nothing reaches StackOne.
  Accounts linked here are fake. For development and tests only:
  never enable it in production.
======================================================================"""


def now_iso() -> str:
    """The current UTC time as StackOne writes it: ISO 8601 with milliseconds and ``Z``."""
    return format_datetime()


@dataclass(frozen=True)
class SandboxMount:
    """What the plugin needs to reach the sandbox mounted on its app.

    :ivar session: a ``requests`` session answering from the app in process, or ``None``
        when the plugin reaches a local sandbox server over HTTP at ``api_url``.
    """

    api_key: str
    webhook_secret: tuple[str, ...]
    api_url: str
    session: requests.Session | None
    path: str


class Sandbox:
    """The sandbox of one app: its store, its deliverer and the URLs it learned."""

    def __init__(
        self,
        app: Flask,
        settings: Settings,
        store: SandboxStore,
        *,
        api_key: str,
        webhook_secret: str,
        webhook_endpoint: str,
    ) -> None:
        self.app = app
        self.settings = settings
        self.api_key = api_key
        self.webhook_secret = webhook_secret
        self.webhook_endpoint = webhook_endpoint
        self.store = store
        self.project_id = store.meta("project_id", lambda: f"sbx-project-{secrets.token_hex(4)}")
        self.organization_id = store.meta("organization_id", lambda: "sbx-org-1")
        self.public_url: str | None = None
        self.learned_webhook_url: str | None = None
        self.deliverer = Deliverer(
            store,
            target=self.webhook_url,
            secret=lambda: self.webhook_secret,
            attempts=settings.sandbox_delivery_attempts,
            backoff=settings.sandbox_delivery_backoff,
            timeout=settings.timeout,
        )

    def learn(self) -> None:
        """Remember the app's public root and webhook URL from a request a real server
        serves (not from in-process calls or Flask's test client), then resume deliveries."""
        environ = request.environ
        if environ.get(IN_PROCESS_KEY) or not environ.get("SERVER_SOFTWARE"):
            return
        root = request.url_root
        if root == self.public_url:
            return
        self.public_url = root
        self.learned_webhook_url = url_for(self.webhook_endpoint, _external=True)
        self.store.set_meta("public_url", root)
        self.deliverer.kick()

    def public_root(self) -> str:
        """The app's public root URL, for links the sandbox hands out (``auth_link_url``)."""
        if has_request_context() and not request.environ.get(IN_PROCESS_KEY):
            return request.url_root
        server_name = self.app.config.get("SERVER_NAME")
        if server_name:
            scheme = self.app.config.get("PREFERRED_URL_SCHEME") or "http"
            root = self.app.config.get("APPLICATION_ROOT") or "/"
            return f"{scheme}://{server_name}{root.rstrip('/')}/"
        return self.public_url or self.store.meta("public_url") or FALLBACK_ROOT

    def webhook_url(self) -> str | None:
        """Where deliveries go: ``STACKONE_SANDBOX_WEBHOOK_URL``, else the app's own
        webhook route as learned from served requests or built from ``SERVER_NAME``."""
        configured = self.settings.sandbox_webhook_url
        if configured:
            return configured
        if self.learned_webhook_url:
            return self.learned_webhook_url
        if self.app.config.get("SERVER_NAME"):
            with self.app.app_context():
                return url_for(self.webhook_endpoint, _external=True)
        return None

    def emit(self, event: str, account: dict[str, Any]) -> None:
        """Queue the webhook StackOne sends for ``event`` on ``account``; send it soon."""
        raw = build_event_body(
            event,
            account_id=account["id"],
            provider=account["provider"],
            project_id=self.project_id,
            origin_owner_id=account.get("origin_owner_id"),
            origin_owner_name=account.get("origin_owner_name"),
            origin_username=account.get("origin_username"),
            setup_information=account.get("setup_information") or {},
        )
        self.store.enqueue(event, account["id"], raw)
        self.deliverer.kick()


def get_sandbox(app: Flask | None = None) -> Sandbox | None:
    """The sandbox installed on ``app`` (default: the current app), or ``None``."""
    app = app or current_app._get_current_object()  # type: ignore[attr-defined]
    return app.extensions.get(EXTENSION_KEY)


def install(app: Flask, settings: Settings, webhook_endpoint: str) -> SandboxMount:
    """Mount the sandbox on ``app`` for a StackOne blueprint with these ``settings``, whose
    webhook route is the endpoint ``webhook_endpoint``.

    Gives what is not configured (an API key and a webhook secret, generated once and kept
    in the sandbox's database; the API URL) and the transport to reach the sandbox: in
    process, or over HTTP when ``STACKONE_API_URL`` names a local server.

    :raises ConfigurationError: ``STACKONE_API_URL`` names a remote server, or another
        blueprint on this app already uses the sandbox.
    """
    from .blueprint import sandbox_bp

    if EXTENSION_KEY in app.extensions:
        raise ConfigurationError(
            f"{settings.name('sandbox')}: only one flask-stackone blueprint per app can use "
            "the sandbox"
        )
    explicit_url = settings.api_url.rstrip("/") != DEFAULTS["API_URL"]
    if explicit_url and not is_local_url(settings.api_url):
        host = urlsplit(settings.api_url).hostname or settings.api_url
        raise ConfigurationError(
            f"{settings.name('sandbox')} is on but {settings.name('api_url')} points to {host}: "
            "the sandbox only runs with a local API URL (or none). Remove the setting, or turn "
            "the sandbox off to use StackOne."
        )
    path = os.path.join(app.instance_path, settings.sandbox_db)  # an absolute path wins
    store = SandboxStore(path)
    api_key = settings.api_key or store.meta(
        "api_key", lambda: "sbx_sk_" + secrets.token_urlsafe(24)
    )
    webhook_secret = settings.webhook_secret or (
        store.meta("webhook_secret", lambda: "sbx_whsec_" + secrets.token_urlsafe(24)),
    )
    sandbox = Sandbox(
        app,
        settings,
        store,
        api_key=api_key,
        webhook_secret=webhook_secret[0],
        webhook_endpoint=webhook_endpoint,
    )
    session = None
    if not explicit_url:
        session = requests.Session()
        session.mount("http://sandbox.localhost/", WSGIAdapter(app, sandbox.public_root))
    app.extensions[EXTENSION_KEY] = sandbox
    app.register_blueprint(sandbox_bp, url_prefix=URL_PREFIX)
    _exempt_from_csrf(app, sandbox_bp)
    log.warning(BANNER, settings.name("sandbox"), URL_PREFIX)
    return SandboxMount(
        api_key=api_key,
        webhook_secret=tuple(s for s in webhook_secret if s),
        api_url=settings.api_url if explicit_url else IN_PROCESS_URL,
        session=session,
        path=URL_PREFIX,
    )


def _exempt_from_csrf(app: Flask, blueprint: Blueprint) -> None:
    """Flask-WTF's CSRFProtect must not refuse StackOne's API calls (the dashboard's own
    forms are checked by origin instead)."""
    csrf = app.extensions.get("csrf")
    if csrf is not None:
        csrf.exempt(blueprint)
        return

    @app.before_request
    def exempt_when_csrf_appears() -> None:
        late = app.extensions.get("csrf")
        if late is not None:
            late.exempt(blueprint)


def reset(app: Flask) -> None:
    """Forget every sandbox session, account and webhook delivery of ``app``.

    The generated API key and webhook secret are kept.

    :raises RuntimeError: the sandbox is not on for this app.
    """
    sandbox = get_sandbox(app)
    if sandbox is None:
        raise RuntimeError("the StackOne sandbox is not on for this app (STACKONE_SANDBOX)")
    sandbox.store.reset()
    log.info("sandbox reset: sessions, accounts and deliveries forgotten")


def wait_for_deliveries(app: Flask, timeout: float = 10.0) -> bool:
    """Wait until no webhook delivery of ``app``'s sandbox is pending.

    :returns: ``False`` if some were still pending after ``timeout`` seconds.
    """
    sandbox = get_sandbox(app)
    if sandbox is None:
        raise RuntimeError("the StackOne sandbox is not on for this app (STACKONE_SANDBOX)")
    return sandbox.deliverer.wait(timeout)


def stop_deliveries(app: Flask, timeout: float = 5.0) -> None:
    """Stop ``app``'s delivery thread; pending deliveries stay stored for a restart."""
    sandbox = get_sandbox(app)
    if sandbox is not None:
        sandbox.deliverer.stop(timeout)
