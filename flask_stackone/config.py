"""The plugin's ``STACKONE_*`` settings, read into :class:`Settings`.

What each setting is, its default and its parser are in the table of
:mod:`flask_stackone.core.settings_table`. Precedence: an explicit argument to
:func:`~flask_stackone.make_blueprint` beats ``app.config`` which beats the default.
Defaults are written into ``app.config`` with ``setdefault`` when the blueprint is
registered.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .core import setting_parsers
from .core.settings_table import PLUGIN_SETTINGS, Setting, read_all
from .services.settings import Settings


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
