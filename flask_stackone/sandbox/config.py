"""The sandbox's own settings, read from its app's config (``SANDBOX_*`` keys).

A Flask app with the plugin writes them ``STACKONE_SANDBOX_DB`` and so on: the plugin hands
them over without the ``STACKONE_`` prefix, and errors still name the key as the host wrote
it. The standalone server (``python -m flask_stackone.sandbox``) fills them from its options.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..core.errors import ConfigurationError
from ..core.models import redacted_repr

#: Every setting and its default.
DEFAULTS: dict[str, Any] = {
    "SANDBOX_API_KEY": None,
    "SANDBOX_WEBHOOK_SECRET": None,
    "SANDBOX_WEBHOOK_URL": None,
    "SANDBOX_DB": "stackone-sandbox.sqlite3",
    "SANDBOX_DELIVERY_ATTEMPTS": None,
    "SANDBOX_DELIVERY_BACKOFF": 1.0,
    "SANDBOX_DELIVERY_TIMEOUT": 10.0,
    "SANDBOX_HUB_DIR": None,
    "SANDBOX_HUB_SCRIPT_URL": None,
}
#: An http(s) URL, matched against the whole value: no space or control character (a
#: trailing newline included) anywhere.
URL = re.compile(r"https?://[^/\x00-\x20\x7f]+[^\x00-\x20\x7f]*")


@dataclass(frozen=True)
class SandboxConfig:
    """The checked settings of one sandbox. Secrets are hidden from ``repr``.

    :ivar api_key: the key clients must send; ``None``: generated and kept in the database.
    :ivar webhook_secret: the signing secret; ``None``: generated and kept likewise.
    :ivar webhook_url: where deliveries go; ``None``: learned while serving (host apps) or
        nowhere (deliveries wait).
    :ivar db: the SQLite file, relative to the app's instance folder.
    :ivar delivery_attempts: tries per delivery; ``None``: until a 2xx answer.
    :ivar delivery_backoff: seconds before the first retry, doubled for each next one.
    :ivar delivery_timeout: seconds to wait for the receiver's answer.
    :ivar hub_dir: the folder of the pinned Hub script (``None``: the per-user cache).
    :ivar hub_script_url: a CDN copy of the pinned Hub script, used when none is installed.
    """

    api_key: str | None = None
    webhook_secret: str | None = None
    webhook_url: str | None = None
    db: str = DEFAULTS["SANDBOX_DB"]
    delivery_attempts: int | None = None
    delivery_backoff: float = DEFAULTS["SANDBOX_DELIVERY_BACKOFF"]
    delivery_timeout: float = DEFAULTS["SANDBOX_DELIVERY_TIMEOUT"]
    hub_dir: str | None = None
    hub_script_url: str | None = None

    def __repr__(self) -> str:
        return redacted_repr(self)


def read_config(config: Mapping[str, Any], setting_prefix: str = "") -> SandboxConfig:
    """Check the ``SANDBOX_*`` keys of ``config``.

    :param setting_prefix: how the user writes the keys (``"STACKONE_"`` in a host app), for
        error messages.
    :raises ConfigurationError: naming the key (never a secret value); also for a
        ``SANDBOX_*`` key that is no setting (a typo must not go unnoticed).
    """

    def name(key: str) -> str:
        return setting_prefix + key

    unknown = sorted(
        k for k in config if isinstance(k, str) and k.startswith("SANDBOX_") and k not in DEFAULTS
    )
    if unknown:
        known = ", ".join(name(k) for k in DEFAULTS)
        raise ConfigurationError(f"{name(unknown[0])} is not a sandbox setting (known: {known})")

    def get(key: str) -> Any:
        value = config.get(key, DEFAULTS[key])
        return DEFAULTS[key] if value is None or value == "" else value

    def text(key: str) -> str | None:
        value = get(key)
        if value is not None and (not isinstance(value, str) or not value.strip()):
            raise ConfigurationError(f"{name(key)} must be a non-empty string")
        return value

    def number(key: str, kind: type, minimum: float) -> Any:
        value = get(key)
        if isinstance(value, bool):
            raise ConfigurationError(f"{name(key)} must be a number, got {value!r}")
        try:
            value = kind(value)
        except (TypeError, ValueError, OverflowError):
            raise ConfigurationError(f"{name(key)} must be a number, got {value!r}") from None
        if not value >= minimum or value != value:  # NaN too
            raise ConfigurationError(f"{name(key)} must be at least {minimum}, got {value!r}")
        return value

    def url(key: str) -> str | None:
        value = get(key)
        if value is not None and (not isinstance(value, str) or not URL.fullmatch(value)):
            raise ConfigurationError(f"{name(key)} must be an http(s) URL")
        return value

    secret = get("SANDBOX_WEBHOOK_SECRET")
    if isinstance(secret, (list, tuple)):  # a host app's rotation list: the first one signs
        secret = next(iter(secret), None)
    if secret is not None and (not isinstance(secret, str) or not secret):
        raise ConfigurationError(f"{name('SANDBOX_WEBHOOK_SECRET')} must be a string")
    db = get("SANDBOX_DB")
    if not isinstance(db, (str, os.PathLike)) or not os.fspath(db):
        raise ConfigurationError(f"{name('SANDBOX_DB')} must be a file path")
    hub_dir = get("SANDBOX_HUB_DIR")
    if hub_dir is not None and not isinstance(hub_dir, (str, os.PathLike)):
        raise ConfigurationError(f"{name('SANDBOX_HUB_DIR')} must be a folder path")
    attempts = get("SANDBOX_DELIVERY_ATTEMPTS")
    return SandboxConfig(
        api_key=text("SANDBOX_API_KEY"),
        webhook_secret=secret,
        webhook_url=url("SANDBOX_WEBHOOK_URL"),
        db=os.fspath(db),
        # None or 0: until a 2xx answer
        delivery_attempts=(
            None if attempts is None else number("SANDBOX_DELIVERY_ATTEMPTS", int, 0) or None
        ),
        delivery_backoff=number("SANDBOX_DELIVERY_BACKOFF", float, 0),
        delivery_timeout=number("SANDBOX_DELIVERY_TIMEOUT", float, 0.001),
        hub_dir=None if hub_dir is None else os.fspath(hub_dir),
        hub_script_url=url("SANDBOX_HUB_SCRIPT_URL"),
    )
