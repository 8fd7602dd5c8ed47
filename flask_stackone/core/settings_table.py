"""The table of settings: every setting of the plugin and of the sandbox, its default, its
parser and what it does, in one place.

A host app writes each key with its prefix (``STACKONE_API_KEY``). The plugin reads the keys
that do not start with ``SANDBOX_`` (:data:`PLUGIN_SETTINGS`); the sandbox reads the others
(:data:`SANDBOX_SETTINGS`), written without a prefix when it runs on its own. The
configuration docs' table is checked against this one by the tests.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from . import setting_parsers as parse
from .client import DEFAULT_API_URL


@dataclass(frozen=True)
class Setting:
    """One setting.

    :ivar key: its name without the prefix (``API_KEY``).
    :ivar default: its value when the config has none.
    :ivar parse: ``parse(value, name)`` returns the checked value (see
        :mod:`~flask_stackone.core.setting_parsers`).
    :ivar doc: what it does, in one line.
    :ivar from_plugin: for a sandbox setting, the plugin's setting that a host app fills it
        from (``API_KEY`` for ``SANDBOX_API_KEY``); ``None``: a host app writes it itself.
    """

    key: str
    default: Any
    parse: parse.Parser
    doc: str
    from_plugin: str | None = None

    @property
    def field(self) -> str:
        """The attribute that holds its value: ``api_key`` in the plugin's ``Settings``,
        ``db`` in the sandbox's ``SandboxConfig`` (for ``SANDBOX_DB``)."""
        return self.key.removeprefix("SANDBOX_").lower()


SETTINGS: tuple[Setting, ...] = (
    Setting("API_KEY", None, parse.optional(parse.text), "Your StackOne project's API key."),
    Setting("API_URL", DEFAULT_API_URL, parse.api_url, "StackOne's API root (https)."),
    Setting(
        "WEBHOOK_SECRET",
        None,
        parse.secret_list,
        "The webhook signing secret; a list during a rotation.",
    ),
    Setting("SANDBOX", False, parse.flag, "Mount the offline StackOne emulator."),
    Setting("TIMEOUT", 10.0, parse.number(float, 0.001), "Seconds to wait for StackOne's answer."),
    Setting("MAX_RETRIES", 2, parse.number(int, 0), "Retries of a GET to StackOne."),
    Setting(
        "MAX_RETRY_WAIT",
        10.0,
        parse.number(float, 0),
        "The most seconds the retries of one call wait in total.",
    ),
    Setting(
        "PROVIDERS",
        None,
        parse.optional(parse.slugs),
        "Allow-list of connector keys; None: all.",
    ),
    Setting(
        "CATEGORIES", None, parse.optional(parse.slugs), "Allow-list of categories; None: all."
    ),
    Setting(
        "SESSION_EXPIRES_IN",
        1800,
        parse.number(int, 1),
        "Seconds a Connect Session of the token route lasts.",
    ),
    Setting(
        "AUTH_LINK_EXPIRES_IN",
        432000,
        parse.number(int, 1),
        "Default seconds an auth link lasts (5 days).",
    ),
    Setting(
        "ONBOARDING_MAX_AGE",
        432000,
        parse.number(int, 1),
        "Default seconds an onboarding link lasts (5 days).",
    ),
    Setting(
        "ONBOARDING_MODE",
        "hub",
        parse.choice("hub", "redirect"),
        "What an onboarding link's button does: show the Hub, or redirect to StackOne.",
    ),
    Setting(
        "ONBOARDING_REQUIRE_OWNER",
        False,
        parse.flag,
        "An onboarding link works only for its signed-in owner.",
    ),
    Setting(
        "ONBOARDING_LINK_CHECK",
        None,
        parse.optional(parse.function("the link's grant")),
        "A function consulted each time an onboarding link is opened or used.",
    ),
    Setting(
        "PUBLIC_URL",
        None,
        parse.blank_is_none(parse.root_url),
        "The app's public root URL, for links in emails.",
    ),
    Setting(
        "WEBHOOK_MAX_BYTES",
        1024 * 1024,
        parse.number(int, 1),
        "The largest webhook body accepted.",
    ),
    Setting(
        "WEBHOOK_MAX_AGE",
        3 * 86400,
        parse.optional(parse.number(int, 1)),
        "Seconds the oldest webhook delivery accepted is old; None: no limit.",
    ),
    Setting(
        "DELIVERY_STORE",
        None,
        parse.anything,
        "Where handled deliveries are remembered; None: in memory.",
    ),
    Setting(
        "DELIVERY_WAIT",
        10.0,
        parse.number(float, 0),
        "Seconds a duplicate delivery waits for the first copy.",
    ),
    Setting(
        "DELIVERY_LEASE",
        60.0,
        parse.number(float, 0.001),
        "Seconds a claim on a delivery lasts.",
    ),
    Setting(
        "HUB_DIR",
        None,
        parse.optional(parse.path("folder")),
        "The folder of the pinned Hub script; None: the per-user cache.",
    ),
    Setting(
        "HUB_SCRIPT_URL",
        None,
        parse.blank_is_none(parse.script_url),
        "A CDN copy of the pinned Hub script (https).",
    ),
    Setting(
        "HUB_APP_URL",
        None,
        parse.blank_is_none(parse.script_url),
        "The Hub's app-url (its OAuth redirect host), where StackOne serves another region.",
    ),
    Setting(
        "PROVIDER_NAMES",
        None,
        parse.optional(parse.display_names),
        "Names shown for connector keys.",
    ),
    Setting(
        "BRAND_NAME",
        None,
        parse.blank_is_none(parse.display_name),
        "The product name on the onboarding pages.",
    ),
    Setting(
        "BRAND_LOGO_URL",
        None,
        parse.blank_is_none(parse.logo_url),
        "The logo on the onboarding pages: an http(s) URL or a path on the site.",
    ),
    Setting(
        "LOCALE",
        None,
        parse.optional(parse.locale),
        "The language of the plugin's pages: a locale, or a function returning one.",
    ),
    Setting(
        "MESSAGES",
        None,
        parse.optional(parse.message_overrides),
        "The host's own text for single messages of the plugin.",
    ),
    Setting(
        "SANDBOX_API_KEY",
        None,
        parse.optional(parse.text),
        "The key the sandbox's clients send; None: generated once and kept.",
        from_plugin="API_KEY",
    ),
    Setting(
        "SANDBOX_WEBHOOK_SECRET",
        None,
        parse.signing_secret,
        "The secret the sandbox signs webhooks with; None: generated once and kept.",
        from_plugin="WEBHOOK_SECRET",
    ),
    Setting(
        "SANDBOX_WEBHOOK_URL",
        None,
        parse.optional(parse.http_url),
        "Where the sandbox delivers webhooks; None: the app's own webhook route.",
    ),
    Setting(
        "SANDBOX_DB",
        "stackone-sandbox/sandbox.sqlite3",
        parse.path("file"),
        "The sandbox's SQLite file, relative to the instance folder. A folder the sandbox "
        "creates gets a .gitignore of its own, so its files (generated secrets) stay out of git.",
    ),
    Setting(
        "SANDBOX_DELIVERY_ATTEMPTS",
        None,
        parse.tries,
        "Tries per webhook delivery; None or 0: until a 2xx answer.",
    ),
    Setting(
        "SANDBOX_DELIVERY_BACKOFF",
        1.0,
        parse.number(float, 0),
        "Seconds before the first webhook retry, doubled for each next one.",
    ),
    Setting(
        "SANDBOX_DELIVERY_TIMEOUT",
        10.0,
        parse.number(float, 0.001),
        "Seconds the sandbox waits for the webhook receiver's answer.",
        from_plugin="TIMEOUT",
    ),
    Setting(
        "SANDBOX_HUB_DIR",
        None,
        parse.optional(parse.path("folder")),
        "The folder of the pinned Hub script the sandbox's pages use.",
        from_plugin="HUB_DIR",
    ),
    Setting(
        "SANDBOX_HUB_SCRIPT_URL",
        None,
        parse.optional(parse.script_url),
        "A CDN copy of the pinned Hub script, used instead of the installed one.",
        from_plugin="HUB_SCRIPT_URL",
    ),
)
#: The plugin's settings (``STACKONE_API_KEY`` ...).
PLUGIN_SETTINGS = tuple(s for s in SETTINGS if not s.key.startswith("SANDBOX_"))
#: The sandbox's settings (``SANDBOX_DB`` ...).
SANDBOX_SETTINGS = tuple(s for s in SETTINGS if s.key.startswith("SANDBOX_"))
#: Each setting by its key.
BY_KEY = {s.key: s for s in SETTINGS}


def read_all(
    table: Iterable[Setting], value_of: Callable[[Setting], Any], prefix: str
) -> dict[str, Any]:
    """Parse the value of each setting of ``table``.

    :param value_of: the value found for a setting (its default when there is none).
    :param prefix: how the user writes the keys (``"STACKONE_"``), for messages.
    :returns: each setting's :attr:`Setting.field` mapped to its checked value.
    :raises ConfigurationError: a value is wrong (the message names the setting).
    """
    return {s.field: s.parse(value_of(s), prefix + s.key) for s in table}
