"""What one sandbox keeps: its store, its deliverer, its credentials and where webhooks go.

The sandbox app keeps its :class:`Sandbox` in ``app.extensions["stackone_sandbox"]``; a
Flask app that mounts it (``STACKONE_SANDBOX``) keeps the same object under the same key,
so :func:`get_sandbox`, :func:`reset`, :func:`wait_for_deliveries` and
:func:`stop_deliveries` take either app.
"""

from __future__ import annotations

import logging
import secrets
from typing import Any

from flask import Flask, current_app

from ..core.models import format_datetime
from ..core.webhooks import build_event_body
from .config import SandboxConfig
from .delivery import Deliverer
from .store import SandboxStore

log = logging.getLogger("flask_stackone.sandbox")

#: Where an app keeps its :class:`Sandbox` in ``app.extensions`` (the plugin's own state is
#: under another key, ``flask_stackone.state.EXTENSION_KEY``).
SANDBOX_EXTENSION_KEY = "stackone_sandbox"


def now_iso() -> str:
    """The current UTC time as StackOne writes it: ISO 8601 with milliseconds and ``Z``."""
    return format_datetime()


class Sandbox:
    """The state of one sandbox app.

    The API key and webhook secret are the configured ones, or generated once and kept in
    the database. The webhook URL is the configured one, or the one learned by
    :meth:`learn_webhook_url` in this run (never kept: a URL of an earlier run may be
    another host or port).
    """

    def __init__(self, config: SandboxConfig, store: SandboxStore) -> None:
        self.config = config
        self.store = store
        self.api_key: str = config.api_key or store.meta(
            "api_key", lambda: "sbx_sk_" + secrets.token_urlsafe(24)
        )
        self.webhook_secret: str = config.webhook_secret or store.meta(
            "webhook_secret", lambda: "sbx_whsec_" + secrets.token_urlsafe(24)
        )
        self.project_id: str = store.meta(
            "project_id", lambda: f"sbx-project-{secrets.token_hex(4)}"
        )
        # StackOne's organisation ids are numbers, sent as strings.
        self.organization_id: str = store.meta(
            "organization_id", lambda: str(10_000 + secrets.randbelow(90_000))
        )
        self.learned_webhook_url: str | None = None
        self.deliverer = Deliverer(
            store,
            target=self.webhook_url,
            secret=lambda: self.webhook_secret,
            attempts=config.delivery_attempts,
            backoff=config.delivery_backoff,
            timeout=config.delivery_timeout,
        )

    def __repr__(self) -> str:
        return f"<Sandbox {self.store.path}>"

    def webhook_url(self) -> str | None:
        """Where deliveries go: the configured URL, else the one learned in this run."""
        return self.config.webhook_url or self.learned_webhook_url

    def learn_webhook_url(self, url: str, *, kick: bool = True) -> None:
        """Deliver to ``url`` from now on (unless one is configured); with ``kick``, send
        what is pending now."""
        if url == self.learned_webhook_url:
            return
        self.learned_webhook_url = url
        if kick and not self.config.webhook_url:
            log.info("sandbox webhooks go to %s", url)
            self.deliverer.kick()

    def resume(self) -> None:
        """The sandbox serves requests: send what an earlier run left pending."""
        if self.store.next_due() is not None:
            self.deliverer.kick()

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
    """The sandbox of ``app`` (default: the current app): the sandbox app itself or a
    Flask app that mounts it; ``None`` when the sandbox is not on."""
    app = app or current_app._get_current_object()  # type: ignore[attr-defined]
    return app.extensions.get(SANDBOX_EXTENSION_KEY)


def _require(app: Flask) -> Sandbox:
    sandbox = get_sandbox(app)
    if sandbox is None:
        raise RuntimeError("the StackOne sandbox is not on for this app (STACKONE_SANDBOX)")
    return sandbox


def reset(app: Flask) -> None:
    """Forget every sandbox session, account and webhook delivery of ``app``.

    The generated API key and webhook secret are kept.

    :raises RuntimeError: the sandbox is not on for this app.
    """
    _require(app).store.reset()
    log.info("sandbox reset: sessions, accounts and deliveries forgotten")


def wait_for_deliveries(app: Flask, timeout: float = 10.0) -> bool:
    """Wait until no webhook delivery of ``app``'s sandbox is pending.

    :returns: ``False`` if some were still pending after ``timeout`` seconds.
    :raises RuntimeError: the sandbox is not on for this app.
    """
    return _require(app).deliverer.wait(timeout)


def stop_deliveries(app: Flask, timeout: float = 5.0) -> None:
    """Stop ``app``'s delivery thread; pending deliveries stay stored for a restart."""
    sandbox = get_sandbox(app)
    if sandbox is not None:
        sandbox.deliverer.stop(timeout)
