"""The ``STACKONE_*`` settings: defaults, reading and checking, in one place.

Precedence: an explicit argument to :func:`~flask_stackone.make_blueprint` beats
``app.config`` which beats the default below. Defaults are written into
``app.config`` with ``setdefault`` when the blueprint is registered.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from dataclasses import fields
from types import MappingProxyType
from typing import Any
from urllib.parse import urlsplit

from .core.client import check_api_url
from .core.errors import ConfigurationError
from .core.models import SLUG
from .services.settings import Settings

#: Every setting (without its prefix) and its default.
DEFAULTS: dict[str, Any] = {
    "API_KEY": None,
    "API_URL": "https://api.stackone.com",
    "WEBHOOK_SECRET": None,
    "SANDBOX": False,
    "TIMEOUT": 10.0,
    "MAX_RETRIES": 2,
    "MAX_RETRY_WAIT": 10.0,
    "PROVIDERS": None,
    "CATEGORIES": None,
    "SESSION_EXPIRES_IN": 1800,
    "AUTH_LINK_EXPIRES_IN": 432000,
    "ONBOARDING_MAX_AGE": 432000,
    "ONBOARDING_MODE": "hub",
    "ONBOARDING_REQUIRE_OWNER": False,
    "ONBOARDING_LINK_CHECK": None,
    "PUBLIC_URL": None,
    "WEBHOOK_MAX_BYTES": 1024 * 1024,
    "WEBHOOK_MAX_AGE": 3 * 86400,
    "DELIVERY_STORE": None,
    "DELIVERY_WAIT": 10.0,
    "DELIVERY_LEASE": 60.0,
    "HUB_DIR": None,
    "HUB_SCRIPT_URL": None,
    "PROVIDER_NAMES": None,
    "BRAND_NAME": None,
    "BRAND_LOGO_URL": None,
}
#: How ``STACKONE_SANDBOX`` (and only it, so it is never on by accident) may be written.
FLAG_ON = frozenset({"1", "true", "yes", "on"})
FLAG_OFF = frozenset({"", "0", "false", "no", "off"})

#: The longest brand or connector name shown on a page.
MAX_NAME = 100
#: A logo: an http(s) URL or a path on the app's own site (not ``//host``), no spaces or quotes.
LOGO_URL = re.compile(r"(https?://[^/\s\"'<>]+|/(?!/))[^\s\"'<>]{0,2000}")


#: An http(s) URL without whitespace or control characters, as a whole (``fullmatch``).
HTTP_URL = re.compile(r"https?://[^/\x00-\x20\x7f]+[^\x00-\x20\x7f]*")


def parse_flag(value: Any, setting: str = "STACKONE_SANDBOX") -> bool:
    """Read an on/off setting the one way flask-stackone reads ``STACKONE_SANDBOX``.

    ``True``, ``1`` and the strings ``1``, ``true``, ``yes``, ``on`` are on; ``None``,
    ``False``, ``0`` and ``""``, ``0``, ``false``, ``no``, ``off`` are off (any case).

    :raises ConfigurationError: any other value, so a typo never turns it on or off silently.
    """
    if value is None or isinstance(value, bool):
        return bool(value)
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        text = value.strip().lower()
        if text in FLAG_ON:
            return True
        if text in FLAG_OFF:
            return False
    shown = repr(value) if len(repr(value)) <= 40 else repr(value)[:37] + "..."
    raise ConfigurationError(
        f"{setting} must be on or off (1/0, true/false, yes/no, on/off), got {shown}"
    )


def sandbox_requested(config: Mapping[str, Any], prefix: str = "STACKONE_") -> bool:
    """Whether ``config`` turns the sandbox on (``STACKONE_SANDBOX``, see :func:`parse_flag`)."""
    return parse_flag(config.get(prefix + "SANDBOX"), prefix + "SANDBOX")


def check_option_names(options: Mapping[str, Any]) -> None:
    """:raises TypeError: an explicit option that is no setting (a typo), like a bad keyword."""
    unknown = set(options) - {k.lower() for k in DEFAULTS}
    if unknown:
        raise TypeError(f"unknown flask-stackone option(s): {', '.join(sorted(unknown))}")


def webhook_secrets(value: Any, setting: str = "STACKONE_WEBHOOK_SECRET") -> tuple[str, ...]:
    """The webhook signing secrets of a setting: ``None``, one string, or a list (or tuple)
    of strings during a rotation. The message never contains a secret.

    :raises ConfigurationError: a blank or whitespace-only secret, or anything not a string
        (a number from JSON-typed environment parsing, a dict, bytes, a nested list).
    """
    if value is None:
        return ()
    values = [value] if isinstance(value, str) else value
    if not isinstance(values, (list, tuple)):
        raise ConfigurationError(
            f"{setting} must be a string or a list of strings, not {type(value).__name__} "
            "(quote it in the environment: a number is parsed as JSON)"
        )
    for item in values:
        if not isinstance(item, str):
            raise ConfigurationError(
                f"{setting} must be a string or a list of strings; it holds a {type(item).__name__}"
            )
        if not item.strip():
            raise ConfigurationError(f"{setting} holds a blank secret: set the signing secret")
    return tuple(values)


def apply_defaults(config: dict[str, Any], settings: Settings) -> None:
    """Fill in ``config`` the settings it lacks, with the values in use (not stale defaults:
    the sandbox's generated key, for one). Keys already set are left as they are."""
    in_use = {f.name: getattr(settings, f.name) for f in fields(settings)}
    for key in DEFAULTS:
        value = in_use[key.lower()]
        if isinstance(value, frozenset):
            value = sorted(value)
        elif isinstance(value, Mapping):
            value = dict(value)
        elif key == "WEBHOOK_SECRET":
            value = list(value) or None
        config.setdefault(settings.prefix + key, value)


def read_settings(
    config: Mapping[str, Any], prefix: str = "STACKONE_", overrides: Mapping[str, Any] | None = None
) -> Settings:
    """Merge defaults, ``config`` and ``overrides`` (lower-case names) and check them.

    :raises ConfigurationError: naming the offending setting (never its secret value).
    """
    overrides = dict(overrides or {})  # names checked by check_option_names

    def get(key: str) -> Any:
        if key.lower() in overrides:
            return overrides[key.lower()]
        return config.get(prefix + key, DEFAULTS[key])

    def number(key: str, kind: type, minimum: float) -> Any:
        value = get(key)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            try:
                value = kind(value)
            except (TypeError, ValueError):
                raise ConfigurationError(f"{prefix}{key} must be a number, got {value!r}") from None
        if value < minimum:
            raise ConfigurationError(f"{prefix}{key} must be at least {minimum}, got {value!r}")
        return kind(value)

    def allow_list(key: str) -> frozenset[str] | None:
        value = get(key)
        if value is None:
            return None
        if isinstance(value, str):
            value = [v.strip() for v in value.split(",") if v.strip()]
        values = frozenset(value)
        bad = [v for v in values if not isinstance(v, str) or not SLUG.fullmatch(v)]
        if bad:
            raise ConfigurationError(f"{prefix}{key} has invalid entries: {bad!r}")
        return values

    def flag(key: str) -> bool:  # a typo must never switch a check off silently
        return parse_flag(get(key), prefix + key)

    def hub_script_url() -> str | None:
        value = get("HUB_SCRIPT_URL")
        if value is None or value == "":
            return None
        if not isinstance(value, str) or not HTTP_URL.fullmatch(value):
            raise ConfigurationError(f"{prefix}HUB_SCRIPT_URL must be an https URL")
        local = re.match(r"http://(localhost|127\.0\.0\.1)[:/]", value)
        if not (value.startswith("https://") or local):
            raise ConfigurationError(f"{prefix}HUB_SCRIPT_URL must be an https URL")
        return value

    def provider_names() -> Mapping[str, str] | None:
        value = get("PROVIDER_NAMES")
        if value is None:
            return None
        if not isinstance(value, Mapping) or not all(
            isinstance(k, str)
            and SLUG.fullmatch(k)
            and isinstance(v, str)
            and 0 < len(v.strip()) <= MAX_NAME
            for k, v in value.items()
        ):
            raise ConfigurationError(
                f"{prefix}PROVIDER_NAMES must map connector keys to names, "
                'e.g. {"bamboohr": "BambooHR"}'
            )
        return MappingProxyType({k: v.strip() for k, v in value.items()})

    def brand_name() -> str | None:
        value = get("BRAND_NAME")
        if value is None or value == "":
            return None
        if not isinstance(value, str) or len(value.strip()) > MAX_NAME:
            raise ConfigurationError(f"{prefix}BRAND_NAME must be text of at most {MAX_NAME}")
        return value.strip() or None

    def brand_logo_url() -> str | None:
        value = get("BRAND_LOGO_URL")
        if value is None or value == "":
            return None
        if not isinstance(value, str) or not LOGO_URL.fullmatch(value):
            raise ConfigurationError(
                f"{prefix}BRAND_LOGO_URL must be an http(s) URL or a path on this site, "
                "e.g. /static/logo.svg"
            )
        return value

    def link_check() -> Callable[..., Any] | None:
        value = get("ONBOARDING_LINK_CHECK")
        if value is None:
            return None
        if not callable(value):
            raise ConfigurationError(
                f"{prefix}ONBOARDING_LINK_CHECK must be a function taking the link's grant, "
                f"not {type(value).__name__}"
            )
        check: Callable[..., Any] = value
        return check

    def public_url() -> str | None:
        value = get("PUBLIC_URL")
        if value is None or value == "":
            return None
        refused = ConfigurationError(
            f"{prefix}PUBLIC_URL must be this app's public root URL, such as "
            "'https://app.example.com' (no query, no fragment)"
        )
        if not isinstance(value, str) or not HTTP_URL.fullmatch(value):
            raise refused
        url: str = value
        parts = urlsplit(url)
        if not parts.hostname or parts.query or parts.fragment or "?" in url or "#" in url:
            raise refused
        return url.rstrip("/")

    hub_dir = get("HUB_DIR")
    if hub_dir is not None:
        if not isinstance(hub_dir, (str, os.PathLike)) or not os.fspath(hub_dir):
            raise ConfigurationError(f"{prefix}HUB_DIR must be a folder path")
        hub_dir = os.fspath(hub_dir)
    api_key = get("API_KEY")
    if api_key is not None and (not isinstance(api_key, str) or not api_key.strip()):
        raise ConfigurationError(f"{prefix}API_KEY must be a non-empty string")
    secrets = webhook_secrets(get("WEBHOOK_SECRET"), f"{prefix}WEBHOOK_SECRET")
    api_url = get("API_URL")
    if not isinstance(api_url, str) or not api_url:
        raise ConfigurationError(f"{prefix}API_URL must be a URL")
    check_api_url(api_url, f"{prefix}API_URL")
    sandbox = parse_flag(get("SANDBOX"), f"{prefix}SANDBOX")
    onboarding_mode = get("ONBOARDING_MODE")
    if onboarding_mode not in ("hub", "redirect"):
        raise ConfigurationError(f"{prefix}ONBOARDING_MODE must be 'hub' or 'redirect'")

    return Settings(
        prefix=prefix,
        api_key=api_key,
        api_url=api_url,
        webhook_secret=secrets,
        sandbox=sandbox,
        timeout=number("TIMEOUT", float, 0.001),
        max_retries=number("MAX_RETRIES", int, 0),
        max_retry_wait=number("MAX_RETRY_WAIT", float, 0),
        providers=allow_list("PROVIDERS"),
        categories=allow_list("CATEGORIES"),
        session_expires_in=number("SESSION_EXPIRES_IN", int, 1),
        auth_link_expires_in=number("AUTH_LINK_EXPIRES_IN", int, 1),
        onboarding_max_age=number("ONBOARDING_MAX_AGE", int, 1),
        onboarding_mode=onboarding_mode,
        onboarding_require_owner=flag("ONBOARDING_REQUIRE_OWNER"),
        onboarding_link_check=link_check(),
        public_url=public_url(),
        webhook_max_bytes=number("WEBHOOK_MAX_BYTES", int, 1),
        webhook_max_age=(
            None if get("WEBHOOK_MAX_AGE") is None else number("WEBHOOK_MAX_AGE", int, 1)
        ),  # None: no age limit
        delivery_store=get("DELIVERY_STORE"),
        delivery_wait=number("DELIVERY_WAIT", float, 0),
        delivery_lease=number("DELIVERY_LEASE", float, 0.001),
        hub_dir=hub_dir,
        hub_script_url=hub_script_url(),
        provider_names=provider_names(),
        brand_name=brand_name(),
        brand_logo_url=brand_logo_url(),
    )
