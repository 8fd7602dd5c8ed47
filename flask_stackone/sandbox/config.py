"""The sandbox's own settings, read from its app's config (``SANDBOX_*`` keys).

A Flask app with the plugin writes them ``STACKONE_SANDBOX_DB`` and so on: the plugin hands
them over without the ``STACKONE_`` prefix, and errors still name the key as the host wrote
it. The standalone server (``python -m flask_stackone.sandbox``) fills them from its options.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..core.errors import ConfigurationError
from ..core.models import redacted_repr
from ..core.settings_table import BY_KEY, SANDBOX_SETTINGS, Setting, read_all


@dataclass(frozen=True)
class SandboxConfig:
    """The checked settings of one sandbox (the ``SANDBOX_*`` rows of
    :data:`~flask_stackone.core.settings_table.SETTINGS`). Secrets are hidden from ``repr``.

    :ivar api_key: the key clients must send; ``None``: generated and kept in the database.
    :ivar webhook_secret: the signing secret; ``None``: generated and kept likewise.
    :ivar webhook_url: where deliveries go; ``None``: learned while serving (host apps) or
        nowhere (deliveries wait).
    :ivar db: the SQLite file, relative to the app's instance folder.
    :ivar delivery_attempts: tries per delivery; ``None``: until a 2xx answer.
    :ivar delivery_backoff: seconds before the first retry, doubled for each next one.
    :ivar delivery_timeout: seconds to wait for the receiver's answer.
    :ivar hub_dir: the folder of the pinned Hub script (``None``: the per-user cache).
    :ivar hub_script_url: a CDN copy of the pinned Hub script, used instead of the installed one.
    """

    api_key: str | None = None
    webhook_secret: str | None = None
    webhook_url: str | None = None
    db: str = BY_KEY["SANDBOX_DB"].default
    delivery_attempts: int | None = None
    delivery_backoff: float = BY_KEY["SANDBOX_DELIVERY_BACKOFF"].default
    delivery_timeout: float = BY_KEY["SANDBOX_DELIVERY_TIMEOUT"].default
    hub_dir: str | None = None
    hub_script_url: str | None = None

    def __repr__(self) -> str:
        return redacted_repr(self)


def read_config(config: Mapping[str, Any], setting_prefix: str = "") -> SandboxConfig:
    """Check the ``SANDBOX_*`` keys of ``config``; ``None`` or ``""`` is the default (an
    option not given on the command line).

    :param setting_prefix: how the user writes the keys (``"STACKONE_"`` in a host app), for
        error messages.
    :returns: the checked settings.
    :raises ConfigurationError: naming the key (never a secret value); also for a
        ``SANDBOX_*`` key that is no setting (a typo must not go unnoticed).
    """
    unknown = sorted(
        k for k in config if isinstance(k, str) and k.startswith("SANDBOX_") and k not in BY_KEY
    )
    if unknown:
        known = ", ".join(setting_prefix + s.key for s in SANDBOX_SETTINGS)
        raise ConfigurationError(
            f"{setting_prefix}{unknown[0]} is not a sandbox setting (known: {known})"
        )

    def value_of(setting: Setting) -> Any:
        value = config.get(setting.key)
        return setting.default if value is None or value == "" else value

    return SandboxConfig(**read_all(SANDBOX_SETTINGS, value_of, setting_prefix))
