"""The plugin's ``STACKONE_*`` settings, read into :class:`Settings`.

What each setting is, its default and its parser are in the table of
:mod:`flask_stackone.core.settings_table`. Precedence: an explicit argument to
:func:`~flask_stackone.make_blueprint` beats ``app.config`` which beats the default.
Defaults are written into ``app.config`` with ``setdefault`` when the blueprint is
registered.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from .core import setting_parsers
from .core.models import redacted_repr
from .core.settings_table import PLUGIN_SETTINGS, Setting, read_all


@dataclass(frozen=True)
class Settings:
    """The settings of one blueprint on one app, checked. Secrets are hidden from ``repr``."""

    prefix: str
    api_key: str | None
    api_url: str
    webhook_secret: tuple[str, ...]
    sandbox: bool
    timeout: float
    max_retries: int
    max_retry_wait: float
    providers: frozenset[str] | None
    categories: frozenset[str] | None
    session_expires_in: int
    auth_link_expires_in: int
    onboarding_max_age: int
    onboarding_mode: str
    onboarding_require_owner: bool
    onboarding_link_check: Callable[..., Any] | None
    public_url: str | None
    webhook_max_bytes: int
    webhook_max_age: int | None
    delivery_store: Any
    delivery_wait: float
    delivery_lease: float
    hub_dir: str | None
    hub_script_url: str | None
    provider_names: Mapping[str, str] | None
    brand_name: str | None
    brand_logo_url: str | None
    #: The settings of the mounted sandbox (a ``SandboxConfig``), when it is on. The sandbox
    #: reads its ``STACKONE_SANDBOX_*`` keys itself; the plugin only passes them on.
    sandbox_config: Any = None

    def __repr__(self) -> str:
        return redacted_repr(self)

    def name(self, key: str) -> str:
        """The config key as the user writes it, e.g. ``STACKONE_API_KEY``."""
        return self.prefix + key.upper()


def sandbox_requested(config: Mapping[str, Any], prefix: str = "STACKONE_") -> bool:
    """Whether ``config`` turns the sandbox on (``STACKONE_SANDBOX``).

    :raises ConfigurationError: a value that is neither on nor off.
    """
    return setting_parsers.flag(config.get(prefix + "SANDBOX"), prefix + "SANDBOX")


def check_option_names(options: Mapping[str, Any]) -> None:
    """:raises TypeError: an explicit option that is no setting (a typo), like a bad keyword."""
    unknown = set(options) - {s.field for s in PLUGIN_SETTINGS}
    if unknown:
        raise TypeError(f"unknown flask-stackone option(s): {', '.join(sorted(unknown))}")


def apply_defaults(config: dict[str, Any], settings: Settings) -> None:
    """Fill in ``config`` the settings it lacks, with the values in use (not stale defaults:
    the sandbox's generated key, for one). Keys already set are left as they are."""
    for setting in PLUGIN_SETTINGS:
        value = getattr(settings, setting.field)
        if isinstance(value, frozenset):
            value = sorted(value)
        elif isinstance(value, Mapping):
            value = dict(value)
        elif isinstance(value, tuple):  # the webhook secrets
            value = list(value) or None
        config.setdefault(settings.prefix + setting.key, value)


def read_settings(
    config: Mapping[str, Any], prefix: str = "STACKONE_", overrides: Mapping[str, Any] | None = None
) -> Settings:
    """Check the plugin's settings (:data:`~.core.settings_table.PLUGIN_SETTINGS`): each from
    ``overrides`` (lower-case names), else ``config`` (``prefix`` + key), else its default.

    :returns: the checked settings.
    :raises ConfigurationError: naming the offending setting (never its secret value).
    """
    explicit = dict(overrides or {})  # names checked by check_option_names

    def value_of(setting: Setting) -> Any:
        if setting.field in explicit:
            return explicit[setting.field]
        return config.get(prefix + setting.key, setting.default)

    return Settings(prefix=prefix, **read_all(PLUGIN_SETTINGS, value_of, prefix))
