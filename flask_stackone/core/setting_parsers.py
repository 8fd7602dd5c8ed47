"""The parsers of setting values, one set for the plugin and the sandbox.

Each parser takes a value as found in the config and the setting's name as the user writes it
(``STACKONE_TIMEOUT``), and returns the checked value. A wrong value raises
:class:`~flask_stackone.core.errors.ConfigurationError` naming the setting; the parsers of
secrets never show the value.
"""

from __future__ import annotations

import math
import os
import re
import sys
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any, cast
from urllib.parse import urlsplit

from .client import check_api_url, is_local_url
from .errors import ConfigurationError
from .models import SLUG

#: A parser: ``parse(value, name)`` returns the checked value.
Parser = Callable[[Any, str], Any]

#: How an on/off setting (``STACKONE_SANDBOX``) may be written, in any case.
FLAG_ON = frozenset({"1", "true", "yes", "on"})
FLAG_OFF = frozenset({"", "0", "false", "no", "off"})
#: The largest number a setting takes (a larger whole number is no float).
MAX_NUMBER = sys.float_info.max
#: The longest brand or connector name shown on a page.
MAX_NAME = 100
#: A logo: an http(s) URL or a path on the app's own site (not ``//host``), no spaces or quotes.
LOGO_URL = re.compile(r"(https?://[^/\s\"'<>]+|/(?!/))[^\s\"'<>]{0,2000}")
#: An http(s) URL without whitespace or control characters (a trailing newline included), as a
#: whole (``fullmatch``).
HTTP_URL = re.compile(r"https?://[^/\x00-\x20\x7f]+[^\x00-\x20\x7f]*")


def shown(value: Any) -> str:
    """``repr(value)``, cut to 40 characters: for messages about values that are no secret."""
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def optional(parse: Parser) -> Parser:
    """``parse``, except that ``None`` is kept as ``None`` (the setting is off or unset)."""

    def parse_optional(value: Any, name: str) -> Any:
        return None if value is None else parse(value, name)

    return parse_optional


def blank_is_none(parse: Parser) -> Parser:
    """``parse``, except that ``None`` and ``""`` are ``None`` (the setting is unset)."""

    def parse_optional(value: Any, name: str) -> Any:
        return None if value is None or value == "" else parse(value, name)

    return parse_optional


def anything(value: Any, name: str) -> Any:
    """:returns: ``value`` as it is (checked where it is used, e.g. the delivery store)."""
    return value


def flag(value: Any, name: str) -> bool:
    """An on/off setting: ``True``, ``1`` and the strings ``1``, ``true``, ``yes``, ``on`` are
    on; ``None``, ``False``, ``0`` and ``""``, ``0``, ``false``, ``no``, ``off`` are off (any
    case).

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
    raise ConfigurationError(
        f"{name} must be on or off (1/0, true/false, yes/no, on/off), got {shown(value)}"
    )


def number(kind: type[int] | type[float], minimum: float) -> Parser:
    """A parser of a finite number of type ``kind`` (``int``: a whole number), at least
    ``minimum``; a string is converted (``"2.5"``). NaN and the infinities are refused."""

    def parse_number(value: Any, name: str) -> Any:
        if isinstance(value, bool):
            raise ConfigurationError(f"{name} must be a number, got {shown(value)}")
        try:
            found = value if isinstance(value, (int, float)) else kind(value)
        except (TypeError, ValueError, ArithmeticError):
            raise ConfigurationError(f"{name} must be a number, got {shown(value)}") from None
        if (isinstance(found, float) and not math.isfinite(found)) or found > MAX_NUMBER:
            raise ConfigurationError(f"{name} must be a finite number, got {shown(value)}")
        if kind is int and isinstance(found, float) and not found.is_integer():
            raise ConfigurationError(f"{name} must be a whole number, got {shown(value)}")
        if found < minimum:
            raise ConfigurationError(f"{name} must be at least {minimum}, got {shown(value)}")
        return kind(found)

    return parse_number


def tries(value: Any, name: str) -> int | None:
    """A number of tries: ``None`` or ``0`` is ``None`` (until it succeeds)."""
    count: int | None = None if value is None else number(int, 0)(value, name)
    return count or None


def choice(*choices: str) -> Parser:
    """A parser of one of ``choices``."""
    allowed = " or ".join(repr(c) for c in choices)

    def parse_choice(value: Any, name: str) -> str:
        if value not in choices:
            raise ConfigurationError(f"{name} must be {allowed}")
        result: str = value
        return result

    return parse_choice


def text(value: Any, name: str) -> str:
    """A non-blank string, such as an API key (never shown)."""
    if not isinstance(value, str) or not value.strip():
        raise ConfigurationError(f"{name} must be a non-empty string")
    return value


def secret_list(value: Any, name: str) -> tuple[str, ...]:
    """Signing secrets: ``None``, one string, or a list (or tuple) of strings during a
    rotation. The message never contains a secret.

    :raises ConfigurationError: a blank or whitespace-only secret, or anything not a string
        (a number from JSON-typed environment parsing, a dict, bytes, a nested list).
    """
    if value is None:
        return ()
    values = [value] if isinstance(value, str) else value
    if not isinstance(values, (list, tuple)):
        raise ConfigurationError(
            f"{name} must be a string or a list of strings, not {type(value).__name__} "
            "(quote it in the environment: a number is parsed as JSON)"
        )
    for item in values:
        if not isinstance(item, str):
            raise ConfigurationError(
                f"{name} must be a string or a list of strings; it holds a {type(item).__name__}"
            )
        if not item.strip():
            raise ConfigurationError(f"{name} holds a blank secret: set the signing secret")
    return tuple(values)


def signing_secret(value: Any, name: str) -> str | None:
    """The one secret that signs: the first of :func:`secret_list`, ``None`` when there is none."""
    return next(iter(secret_list(value, name)), None)


def path(what: str) -> Parser:
    """A parser of a non-empty file system path (``what``: ``"file"`` or ``"folder"``)."""

    def parse_path(value: Any, name: str) -> str:
        if not isinstance(value, (str, os.PathLike)) or not os.fspath(value):
            raise ConfigurationError(f"{name} must be a {what} path")
        return str(os.fspath(value))

    return parse_path


def api_url(value: Any, name: str) -> str:
    """StackOne's API root: https, or plain http to this machine only (the key goes there)."""
    if not isinstance(value, str) or not value:
        raise ConfigurationError(f"{name} must be a URL")
    check_api_url(value, name)
    return value


def http_url(value: Any, name: str) -> str:
    """An http(s) URL (:data:`HTTP_URL`)."""
    if not isinstance(value, str) or not HTTP_URL.fullmatch(value):
        raise ConfigurationError(f"{name} must be an http(s) URL")
    return value


def script_url(value: Any, name: str) -> str:
    """A URL a page loads a script from: https, or plain http from this machine."""
    if not isinstance(value, str) or not HTTP_URL.fullmatch(value):
        raise ConfigurationError(f"{name} must be an https URL")
    if not (value.startswith("https://") or is_local_url(value)):
        raise ConfigurationError(f"{name} must be an https URL")
    return value


def root_url(value: Any, name: str) -> str:
    """An app's public root URL (a path is kept), without a trailing slash."""
    refused = ConfigurationError(
        f"{name} must be this app's public root URL, such as "
        "'https://app.example.com' (no query, no fragment)"
    )
    if not isinstance(value, str) or not HTTP_URL.fullmatch(value):
        raise refused
    parts = urlsplit(value)
    if not parts.hostname or parts.query or parts.fragment or "?" in value or "#" in value:
        raise refused
    return value.rstrip("/")


def logo_url(value: Any, name: str) -> str:
    """A logo's address: an http(s) URL or a path on this site (:data:`LOGO_URL`)."""
    if not isinstance(value, str) or not LOGO_URL.fullmatch(value):
        raise ConfigurationError(
            f"{name} must be an http(s) URL or a path on this site, e.g. /static/logo.svg"
        )
    return value


def slugs(value: Any, name: str) -> frozenset[str]:
    """An allow-list of connector keys or categories: a list, or a comma-separated string."""
    if isinstance(value, str):
        value = [v.strip() for v in value.split(",") if v.strip()]
    try:
        values = frozenset(value)
    except TypeError:
        raise ConfigurationError(f"{name} must be a list of names") from None
    bad = [v for v in values if not isinstance(v, str) or not SLUG.fullmatch(v)]
    if bad:
        raise ConfigurationError(f"{name} has invalid entries: {shown(bad)}")
    return values


def display_name(value: Any, name: str) -> str | None:
    """A name shown on pages, at most :data:`MAX_NAME` characters, stripped (blank: ``None``)."""
    if not isinstance(value, str) or len(value.strip()) > MAX_NAME:
        raise ConfigurationError(f"{name} must be text of at most {MAX_NAME}")
    return value.strip() or None


def display_names(value: Any, name: str) -> Mapping[str, str]:
    """Connector keys mapped to the names shown for them (read-only)."""
    if not isinstance(value, Mapping) or not all(
        isinstance(k, str)
        and SLUG.fullmatch(k)
        and isinstance(v, str)
        and 0 < len(v.strip()) <= MAX_NAME
        for k, v in value.items()
    ):
        raise ConfigurationError(
            f'{name} must map connector keys to names, e.g. {{"bamboohr": "BambooHR"}}'
        )
    return MappingProxyType({k: v.strip() for k, v in value.items()})


def function(takes: str) -> Parser:
    """A parser of a function (set in code) taking ``takes`` (for the message)."""

    def parse_function(value: Any, name: str) -> Callable[..., Any]:
        if not callable(value):
            raise ConfigurationError(
                f"{name} must be a function taking {takes}, not {type(value).__name__}"
            )
        found: Callable[..., Any] = value
        return found

    return parse_function


#: A locale as gettext and HTML write it: ``de``, ``de_DE``, ``pt-BR``, ``zh_Hant_TW``.
LOCALE = re.compile(r"[A-Za-z]{2,3}(?:[_-][A-Za-z0-9]{2,8})*")


def locale(value: Any, name: str) -> str | Callable[[], Any]:
    """A locale (``"de"``, ``"pt_BR"``) or a function of no arguments returning one."""
    if callable(value):
        return cast("Callable[[], Any]", value)
    if not isinstance(value, str) or not LOCALE.fullmatch(value):
        raise ConfigurationError(
            f'{name} must be a locale such as "de" or "pt_BR", or a function returning one'
        )
    return value


#: A named placeholder of a message, ``%(name)s``.
PLACEHOLDER = re.compile(r"%\((\w+)\)s")


def message_overrides(value: Any, name: str) -> Mapping[str, str | Mapping[str, str]]:
    """English messages mapped to the text shown instead: one text for every language, or
    a mapping from locale to text (read-only)."""

    def is_text(text: Any) -> bool:
        return isinstance(text, str) and bool(text.strip())

    def is_override(text: Any) -> bool:
        return is_text(text) or (
            isinstance(text, Mapping)
            and all(
                isinstance(k, str) and LOCALE.fullmatch(k) and is_text(v) for k, v in text.items()
            )
        )

    if not isinstance(value, Mapping) or not all(
        is_text(k) and is_override(v) for k, v in value.items()
    ):
        raise ConfigurationError(
            f"{name} must map English messages to text, or to a mapping from locale to text, "
            'e.g. {"Disconnect": "Remove", "Add a connection": {"de": "Verbinden"}}'
        )
    for message, override in value.items():
        names = dict.fromkeys(PLACEHOLDER.findall(message), "")
        for text in [override] if isinstance(override, str) else override.values():
            try:
                _ = text % names if names else text
            except (KeyError, ValueError, TypeError):
                raise ConfigurationError(
                    f"{name}: the text for {message[:60]!r} may use only its placeholders "
                    f"({', '.join(f'%({n})s' for n in names) or 'none'}); write % as %%"
                ) from None
    return MappingProxyType(
        {k: v if isinstance(v, str) else MappingProxyType(dict(v)) for k, v in value.items()}
    )
