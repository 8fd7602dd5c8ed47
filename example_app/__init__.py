"""Acme People: a small multi-tenant HR analytics app whose customers link their HR
systems through StackOne with flask-stackone.

``make run`` starts it against the built-in sandbox (it sets ``STACKONE_SANDBOX=1`` when no
``STACKONE_API_KEY`` is set); with ``STACKONE_API_KEY`` and ``STACKONE_WEBHOOK_SECRET`` it
talks to StackOne. The sandbox is on only when asked for (``STACKONE_SANDBOX``), or by
default in debug and testing mode while no key is set; without a key and without the
sandbox the app refuses to start. On any address but ``localhost`` /
``127.0.0.1``, set ``STACKONE_PUBLIC_URL`` (e.g. ``https://people.example.com``): invitation
emails link there, never to whatever ``Host`` header a request carried.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from typing import Any

from flask import Config, Flask
from flask_wtf.csrf import CSRFProtect

from flask_stackone import (
    AccountEvent,
    ConfigurationError,
    WebhookEvent,
    account_created,
    account_deleted,
    account_updated,
    get_state,
    stackone_bp,
    webhook_received,
)

from . import accounts, auth, db, outbox, receivers, security, views
from .filters import register_filters

csrf = CSRFProtect()


def create_app(config: Mapping[str, Any] | None = None, instance_path: str | None = None) -> Flask:
    """Build the app.

    :param config: settings that beat the environment (tests pass ``TESTING`` etc.).
    :param instance_path: where the databases and the generated secret key live (default:
        ``$ACME_INSTANCE_PATH``, else ``instance/`` next to the package).
    """
    instance_path = instance_path or os.environ.get("ACME_INSTANCE_PATH") or None
    app = Flask(__name__, instance_path=instance_path, instance_relative_config=True)
    os.makedirs(app.instance_path, exist_ok=True)
    app.config.from_mapping(
        DATABASE=os.path.join(app.instance_path, "acme-people.db"),
        DEMO_DATA=True,
        SESSION_COOKIE_SAMESITE="Lax",
        # Several gunicorn workers share one SQLite file of handled webhook deliveries.
        STACKONE_DELIVERY_STORE="stackone-deliveries.db",
        # Withdrawn invitations, and those of members who left, stop working.
        STACKONE_ONBOARDING_LINK_CHECK=outbox.invitation_still_valid,
    )
    app.config.from_prefixed_env()  # FLASK_SECRET_KEY, FLASK_SESSION_COOKIE_SECURE...
    app.config.update(_stackone_environment())  # STACKONE_API_KEY, STACKONE_WEBHOOK_SECRET...
    app.config.update(config or {})
    _default_to_sandbox(app)
    # The onboarding-link pages (opened from an email) carry this app's name and logo.
    app.config.setdefault("STACKONE_BRAND_NAME", "Acme People")
    app.config.setdefault("STACKONE_BRAND_LOGO_URL", "/static/favicon.svg")
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = _instance_secret_key(app.instance_path)

    db.init_app(app)
    accounts.init_app(app)
    csrf.init_app(app)
    security.init_app(app)
    register_filters(app)
    app.register_blueprint(auth.bp)
    app.cli.add_command(auth.members_cli)
    app.register_blueprint(views.bp)
    app.register_blueprint(stackone_bp)  # its owner loader is auth.current_owner
    _require_stackone(app)

    # Receivers defined here would be garbage-collected without weak=False.
    @account_created.connect_via(app, weak=False)
    @account_updated.connect_via(app, weak=False)
    def store_linked_account(sender: Flask, event: AccountEvent, **extra: Any) -> None:
        receivers.store_linked_account(event)

    @account_created.connect_via(app, weak=False)
    @account_updated.connect_via(app, weak=False)
    def announce_link(sender: Flask, event: AccountEvent, **extra: Any) -> None:
        if event.source == "hub":  # the signed-in user's own page confirmed it
            receivers.announce_link(event)

    @account_deleted.connect_via(app, weak=False)
    def forget_linked_account(sender: Flask, event: AccountEvent, **extra: Any) -> None:
        receivers.forget_linked_account(event)

    @webhook_received.connect_via(app, weak=False)
    def log_webhook(sender: Flask, event: WebhookEvent, **extra: Any) -> None:
        receivers.log_other_event(event)

    return app


def _default_to_sandbox(app: Flask) -> None:
    """StackOne itself with a key; the sandbox when asked for (``make run`` asks), or in
    debug and testing mode while no key is set."""
    if app.config.get("STACKONE_API_KEY"):
        return
    if app.config.get("STACKONE_SANDBOX") is None and (app.debug or app.testing):
        app.config["STACKONE_SANDBOX"] = True  # development: the offline emulator


def _require_stackone(app: Flask) -> None:
    """Never the sandbox silently: a deployed app that lost its key (or misspelled it)
    refuses to start instead of serving the sandbox.

    :raises ConfigurationError: no key, and the sandbox is not asked for.
    """
    settings = get_state(app).settings
    if not settings.api_key and not settings.sandbox and not app.testing:
        raise ConfigurationError(
            "Acme People needs StackOne: set STACKONE_API_KEY (and STACKONE_WEBHOOK_SECRET) "
            "to use your StackOne project, or STACKONE_SANDBOX=1 to run against the offline "
            "sandbox (development only; `make run` does this for you)"
        )


def _stackone_environment() -> dict[str, Any]:
    """``STACKONE_*`` environment variables, read the way ``from_prefixed_env`` reads
    ``FLASK_*`` ones (values that parse as JSON, such as a list of secrets, are parsed)."""
    found = Config("")
    found.from_prefixed_env("STACKONE")
    return {f"STACKONE_{key}": value for key, value in found.items()}


def _instance_secret_key(instance_path: str) -> str:
    """A random key kept in the instance folder, so sessions survive restarts and every
    worker signs with the same key. Set ``FLASK_SECRET_KEY`` to manage it yourself."""
    path = os.path.join(instance_path, "secret_key")
    if not os.path.exists(path):
        # Written whole to a private file, then linked into place: a worker starting at
        # the same moment either wins or reads the winner's complete key.
        draft = f"{path}.{os.getpid()}.{secrets.token_hex(4)}"
        fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="ascii") as file:
            file.write(secrets.token_hex(32))
        try:
            os.link(draft, path)
        except FileExistsError:
            pass
        finally:
            os.unlink(draft)
    with open(path, encoding="ascii") as file:
        return file.read().strip()
