"""The language of everything the plugin shows a person: one gettext domain,
``flask_stackone``, with the catalogues in ``flask_stackone/translations/`` (English is the
source).

The locale of a request is, in order: the ``STACKONE_LOCALE`` setting (a locale, or a function
returning one), Flask-Babel's locale when the host app uses Flask-Babel (its locale selector;
the catalogues are then read through Flask-Babel's :class:`~flask_babel.Domain`), else English.
``STACKONE_MESSAGES`` replaces single messages. Dates follow the locale when Babel is installed.
"""

from __future__ import annotations

import functools
import gettext as stdlib_gettext
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Protocol

from flask import current_app, has_request_context
from markupsafe import Markup, escape

from .core.setting_parsers import LOCALE
from .services.settings import Settings

#: The gettext domain of the package.
DOMAIN = "flask_stackone"
#: Where the catalogues are: ``<locale>/LC_MESSAGES/flask_stackone.{po,mo}``.
TRANSLATIONS = Path(__file__).resolve().parent / "translations"
#: The language the messages are written in.
SOURCE_LOCALE = "en"


def N_(message: str) -> str:
    """Mark ``message`` for the catalogue without translating it (translated when shown).

    :returns: ``message`` itself.
    """
    return message


class Catalogue(Protocol):
    """What is used of a gettext translations object."""

    def gettext(self, message: str) -> str: ...


@functools.lru_cache(maxsize=64)  # bounded: a host's locale function may read the request
def catalogue(locale: str) -> Catalogue:
    """The package's catalogue for ``locale`` (``de_DE`` falls back to ``de``); no
    catalogue: the messages as written."""
    return stdlib_gettext.translation(DOMAIN, str(TRANSLATIONS), languages=[locale], fallback=True)


@functools.cache
def _babel_domain() -> Any:
    """Flask-Babel's domain for the package, made once (Flask-Babel is imported only here)."""
    from flask_babel import Domain

    return Domain(translation_directories=str(TRANSLATIONS), domain=DOMAIN)


def _uses_flask_babel() -> bool:
    return "babel" in current_app.extensions


def _normal(locale: Any) -> str:
    return str(locale).replace("-", "_")


@dataclass(frozen=True)
class Translator:
    """The messages of one request in its locale.

    :ivar locale: the locale (``"en"``, ``"de"``, ``"pt_BR"``).
    :ivar catalogue: where the translations are read.
    :ivar overrides: ``STACKONE_MESSAGES``.
    """

    locale: str
    catalogue: Catalogue
    overrides: Mapping[str, str | Mapping[str, str]]

    @property
    def lang(self) -> str:
        """The locale as HTML's ``lang`` writes it (``pt-BR``)."""
        return self.locale.replace("_", "-")

    def override(self, message: str) -> str | None:
        """The host's own text for ``message`` in this locale, if any."""
        found = self.overrides.get(message)
        if found is None or isinstance(found, str):
            return found
        language = self.locale.split("_")[0]
        return found.get(self.locale) or found.get(self.lang) or found.get(language)

    def gettext(self, message: str, **variables: Any) -> str:
        """``message`` in this locale (or as the host overrode it), ``%(name)s`` filled from
        ``variables``.

        :returns: the text to show.
        """
        text = self.override(message) or self.catalogue.gettext(message)
        return text % variables if variables else text

    def markup(self, message: str, **variables: Any) -> Markup:
        """:meth:`gettext` for a template: the text escaped, each variable escaped unless it
        is :class:`~markupsafe.Markup` already (templates call it as ``_()``).

        :returns: safe HTML.
        """
        text = self.override(message) or self.catalogue.gettext(message)
        safe = escape(text)
        return safe % variables if variables else safe

    def datetime(self, moment: datetime, english: str) -> str:
        """``moment`` in UTC, as written in this locale (day, month, year, hours, minutes).

        :param english: the form used in English and without Babel, for ``str.format`` of
            the UTC time (``"{0:%Y-%m-%d %H:%M}"``).
        :returns: the text, without the time zone's name.
        """
        utc = moment.astimezone(timezone.utc)
        if self.locale.split("_")[0] == SOURCE_LOCALE:
            return english.format(utc)
        try:
            from babel import Locale, UnknownLocaleError
            from babel.dates import format_skeleton, format_time
        except ImportError:
            return english.format(utc)
        try:
            locale = Locale.parse(self.locale)
        except (UnknownLocaleError, ValueError):
            return english.format(utc)
        day = format_skeleton("yMMMd", utc, tzinfo=timezone.utc, locale=locale)
        hour = format_time(utc, "short", tzinfo=timezone.utc, locale=locale)
        pattern = str(locale.datetime_formats["medium"])
        return pattern.replace("{1}", day).replace("{0}", hour)

    def script_messages(self, table: Mapping[str, str]) -> dict[str, str]:
        """Each message of a script's table (key: English) in this locale."""
        return {key: self.gettext(message) for key, message in table.items()}


def chosen_locale(settings: Settings) -> str | None:
    """The locale ``STACKONE_LOCALE`` names for this request, or ``None`` (also when its
    function returns something that is no locale: it may read a value from the request)."""
    configured = settings.locale
    if configured is None:
        return None
    value = configured() if callable(configured) else configured
    if not value or not LOCALE.fullmatch(str(value)):
        return None
    return _normal(value)


def translator(settings: Settings) -> Translator:
    """The :class:`Translator` of the current request for a blueprint with ``settings``."""
    overrides = settings.messages or {}
    locale = chosen_locale(settings)
    if locale is None and has_request_context() and _uses_flask_babel():
        from flask_babel import get_locale

        found = get_locale()
        if found is not None:
            return Translator(_normal(found), _babel_domain().get_translations(), overrides)
    locale = locale or SOURCE_LOCALE
    return Translator(locale, catalogue(locale), overrides)
