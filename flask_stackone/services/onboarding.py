"""Linking an account from an email: StackOne auth links and our onboarding links.

:func:`create_auth_link` asks StackOne for a Connect Session with a long lifetime and
returns its hosted ``auth_link_url``. :func:`onboarding_link` instead returns a URL on the
host app, signed with itsdangerous, that holds no StackOne token: opening it (GET) only
shows a page, and the "Connect" button (POST) creates a fresh session at that moment.
Either way the app learns of the new account from the ``account.created`` webhook.
"""

from __future__ import annotations

import logging
import re
import secrets
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any
from urllib.parse import urlsplit

from flask import current_app, has_request_context, request
from flask import url_for as flask_url_for
from itsdangerous import BadData, URLSafeSerializer
from werkzeug.exceptions import SecurityError
from werkzeug.sansio.utils import host_is_trusted

from ..core import errors
from ..core.client import is_loopback
from ..core.errors import LinkError, LinkExpired, LinkRevoked
from ..core.models import ConnectSession, Owner
from .linking import (
    LinkOptions,
    check_options,
    create_session,
    current_owner,
    is_account_id,
    owned_account,
)
from .state import StackOneState, get_state

log = logging.getLogger("flask_stackone")

#: The longest ``expires_in`` :func:`create_auth_link` sends (7 days). StackOne publishes
#: no maximum; this keeps a forgotten link from staying usable for months.
MAX_AUTH_LINK_EXPIRES_IN = 7 * 86400
#: The longest lifetime of an onboarding link (90 days).
MAX_ONBOARDING_AGE = 90 * 86400
#: itsdangerous salt of onboarding links (the blueprint name is appended).
SALT = "flask-stackone.onboarding-link"
#: Longer signed values are refused before any check.
MAX_SIGNED_LENGTH = 4096
PAYLOAD_VERSION = 1
#: A link id given by the host: matched against the whole value (``fullmatch``).
LINK_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")


@dataclass(frozen=True)
class AuthLink:
    """A StackOne auth link. ``url`` is a credential: it is kept out of ``repr``."""

    url: str = field(repr=False)
    expires_in: int
    expires_at: datetime
    session_id: str


class OnboardingLink(str):
    """An onboarding link: the URL itself (a ``str``, usable wherever the URL was) with
    when it stops working.

    :ivar url: the URL, as a plain ``str``.
    :ivar expires_at: when the link stops working (UTC).
    :ivar expires_in: its lifetime in seconds, from when it was made.
    :ivar link_id: the link's id, to withdraw this one link.

    The URL is a credential: ``repr`` leaves it out. It pickles (a job's result).
    """

    expires_at: datetime
    expires_in: int
    link_id: str

    def __new__(
        cls, url: str, expires_at: datetime, expires_in: int, link_id: str
    ) -> OnboardingLink:
        link = super().__new__(cls, url)
        link.expires_at = expires_at
        link.expires_in = expires_in
        link.link_id = link_id
        return link

    @property
    def url(self) -> str:
        """The URL as a plain ``str``."""
        return str.__str__(self)

    def __repr__(self) -> str:
        return (
            f"OnboardingLink(expires_at={self.expires_at!r}, expires_in={self.expires_in!r}, "
            f"link_id={self.link_id!r})"
        )

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.url, self.expires_at, self.expires_in, self.link_id))


@dataclass(frozen=True)
class OnboardingGrant:
    """What a valid onboarding link allows: linking an account for ``owner``.

    :ivar link_id: the link's own id (yours, or a random one), to withdraw this one link;
        ``None`` for a link made before links had ids.
    :ivar issued_at: when the link was made (``None`` for such older links).
    :ivar account_id: the account the link re-connects, or ``None``.
    :ivar multiple: the link adds another account of a connector the owner has.
    """

    owner: Owner
    provider: str | None
    categories: tuple[str, ...]
    expires_at: datetime
    link_id: str | None = None
    issued_at: datetime | None = None
    #: The account the link re-connects (it must still be the owner's when opened).
    account_id: str | None = None
    #: ``True``: the link adds another account even when the owner has one of the connector.
    multiple: bool = False


def _now() -> float:
    return time.time()


def _lifetime(value: int | timedelta | None, default: int, limit: int, setting: str) -> int:
    """Seconds from an explicit value or the setting's ``default``, checked against ``limit``.

    :raises InvalidOptionError: an explicit value is not positive or above ``limit``.
    :raises ConfigurationError: the setting's value is above ``limit``.
    """
    if value is None:
        if default > limit:
            raise errors.ConfigurationError(f"{setting} must be at most {limit} seconds")
        return default
    if isinstance(value, timedelta):
        value = int(value.total_seconds())
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise errors.InvalidOptionError(
            f"the lifetime must be a positive number of seconds, got {value!r}",
            code="invalid_expires_in",
        )
    if value > limit:
        raise errors.InvalidOptionError(
            f"the lifetime must be at most {limit} seconds ({limit // 86400} days), got {value}",
            code="invalid_expires_in",
        )
    return value


def _link_options(
    state: StackOneState,
    provider: str | None,
    categories: Iterable[str] | None,
    account_id: str | None = None,
    multiple: bool = False,
) -> LinkOptions:
    if categories is not None and not isinstance(categories, str):
        categories = list(categories)
    data = {"provider": provider, "categories": categories, "account_id": account_id}
    return check_options(state.settings, {**data, "multiple": multiple})


def _owner(owner: Owner) -> Owner:
    if not isinstance(owner, Owner):
        raise TypeError(f"owner must be an Owner, not {type(owner).__name__}")
    return owner


def _prepare(
    blueprint: str,
    setting: str,
    value: int | timedelta | None,
    limit: int,
    owner: Owner,
    provider: str | None,
    categories: Iterable[str] | None,
    account_id: str | None = None,
    multiple: bool = False,
) -> tuple[StackOneState, int, LinkOptions]:
    """What both kinds of link start with: the state, the checked lifetime (``value`` or
    the ``setting``'s value) and the checked options."""
    state = get_state(blueprint=blueprint)
    settings = state.settings
    lifetime = _lifetime(value, getattr(settings, setting), limit, settings.name(setting))
    _owner(owner)
    return state, lifetime, _link_options(state, provider, categories, account_id, multiple)


def create_auth_link(
    owner: Owner,
    provider: str | None = None,
    categories: Iterable[str] | None = None,
    expires_in: int | timedelta | None = None,
    *,
    account_id: str | None = None,
    multiple: bool = False,
    blueprint: str = "stackone",
) -> AuthLink:
    """Create a StackOne Connect Session meant to be sent by email and return its auth link.

    Works in a request or with only an app context (a CLI command, a job).

    :param owner: the customer the account will belong to.
    :param provider: open that connector directly (checked against ``STACKONE_PROVIDERS``).
    :param categories: offer connectors of these categories only.
    :param expires_in: seconds (or a ``timedelta``) the link works; default
        ``STACKONE_AUTH_LINK_EXPIRES_IN`` (5 days), at most :data:`MAX_AUTH_LINK_EXPIRES_IN`.
    :param account_id: re-authenticate this existing account instead of adding one.
    :param multiple: add another account even when the owner has one of the connector
        (StackOne otherwise re-links that one). Not with ``account_id``.
    :param blueprint: the name of the blueprint instance to use.
    :raises InvalidOptionError: a bad provider, category, account id, lifetime or
        ``multiple``.
    :raises StackOneError: StackOne refused or could not be reached.
    :raises ConfigurationError: ``STACKONE_API_KEY`` is not set.
    """
    state, lifetime, options = _prepare(
        blueprint,
        "auth_link_expires_in",
        expires_in,
        MAX_AUTH_LINK_EXPIRES_IN,
        owner,
        provider,
        categories,
        account_id,
        multiple,
    )
    session = create_session(state, owner, lifetime, options)
    if not session.auth_link_url or session.expires_at is None:
        raise errors.InvalidResponseError("StackOne's connect session answer has no auth_link_url")
    return AuthLink(
        url=session.auth_link_url,
        expires_in=lifetime,
        expires_at=session.expires_at,
        session_id=session.id,
    )


# -- onboarding links ---------------------------------------------------------------------------


def _serializer(state: StackOneState) -> URLSafeSerializer:
    """Signs with ``SECRET_KEY``; also accepts ``SECRET_KEY_FALLBACKS`` (oldest first)."""
    config = current_app.config
    key = config.get("SECRET_KEY")
    if not key:
        raise errors.ConfigurationError(
            "SECRET_KEY is not set: onboarding links are signed with it"
        )
    keys = [*(config.get("SECRET_KEY_FALLBACKS") or ()), key]
    return URLSafeSerializer(keys, salt=f"{SALT}:{state.name}")


def external_url(
    state: StackOneState, endpoint: str, base_url: str | None = None, **values: Any
) -> str:
    """The absolute URL of one of the blueprint's endpoints, for a link that leaves the
    request (an email, the command line).

    Its root is, in order: ``base_url``; ``STACKONE_PUBLIC_URL``; ``SERVER_NAME`` (with
    ``PREFERRED_URL_SCHEME`` and ``APPLICATION_ROOT``). Only without any of them, and in a
    request, the request's own host, when something vouches for it: Flask's
    ``TRUSTED_HOSTS`` lists it, or it is a loopback name (``localhost``, ``127.0.0.1``,
    ``::1``: development and tests, where a link cannot lead to another machine). A ``Host``
    header nobody checked is never used: anyone can send one.

    :raises ConfigurationError: none of these gives a trustworthy root.
    :raises SecurityError: (a 400) ``TRUSTED_HOSTS`` is set and the request's host is not in it.
    """
    full = f"{state.name}.{endpoint}"
    if base_url:
        return _build_external(full, base_url, "base URL", values)
    if state.settings.public_url:
        return _build_external(full, state.settings.public_url, "", values)
    config = current_app.config
    server_name = config.get("SERVER_NAME")
    if server_name:
        scheme = config.get("PREFERRED_URL_SCHEME") or "http"
        root = config.get("APPLICATION_ROOT") or "/"
        return _build_external(full, f"{scheme}://{server_name}{root}", "SERVER_NAME", values)
    if has_request_context() and _request_host_is_vouched_for():
        return flask_url_for(full, _external=True, **values)
    setting = state.settings.name("public_url")
    if has_request_context():
        where = "from this request's Host header, which nothing vouches for"
        trusted_hosts = "list your host names in Flask's TRUSTED_HOSTS, "
    else:  # a job or a command: there is no Host header to vouch for
        where, trusted_hosts = "outside a request", ""
    raise errors.ConfigurationError(
        f"cannot build a link for an email {where}: set {setting} to this app's public root "
        "(e.g. 'https://app.example.com') or SERVER_NAME (e.g. 'app.example.com'), "
        f"{trusted_hosts}or pass a base URL (base_url= in Python, --base-url on the command line)"
    )


def _build_external(endpoint: str, root: str, what: str, values: dict[str, Any]) -> str:
    parts = urlsplit(root)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise errors.ConfigurationError(f"{what} must be http(s)://host[:port], got {root!r}")
    adapter = current_app.url_map.bind(
        parts.netloc, script_name=parts.path or "/", url_scheme=parts.scheme
    )
    return adapter.build(endpoint, values, force_external=True)


def _request_host_is_vouched_for() -> bool:
    """True when Flask's ``TRUSTED_HOSTS`` lists the request's host (checked here too, for
    Flask versions that do not), or when it is a loopback name.

    :raises SecurityError: ``TRUSTED_HOSTS`` is set and does not list the host (a 400).
    """
    host = request.host  # Flask 3.1 and later refuse a host TRUSTED_HOSTS does not list
    trusted = current_app.config.get("TRUSTED_HOSTS")
    if trusted:
        if not host_is_trusted(host, trusted):
            raise SecurityError(f"Host {host!r} is not trusted")
        return True
    try:
        hostname = urlsplit(f"//{host}").hostname
    except ValueError:
        return False
    return hostname is not None and is_loopback(hostname)


def onboarding_link(
    owner: Owner,
    provider: str | None = None,
    max_age: int | timedelta | None = None,
    *,
    categories: Iterable[str] | None = None,
    base_url: str | None = None,
    link_id: str | None = None,
    account_id: str | None = None,
    multiple: bool = False,
    blueprint: str = "stackone",
) -> OnboardingLink:
    """A signed URL on this app (``/stackone/link/<signed>``) to put in an email.

    Works in a request or with only an app context (a CLI command, a job) when
    ``STACKONE_PUBLIC_URL`` or ``SERVER_NAME`` is set. It carries no StackOne token and
    calls nothing now: the session is created when the customer clicks "Connect" on the
    page it opens. Signed with ``SECRET_KEY`` (its owner, provider and expiry can be read
    but not changed).

    :param max_age: seconds (or a ``timedelta``) the link works; default
        ``STACKONE_ONBOARDING_MAX_AGE`` (5 days), at most :data:`MAX_ONBOARDING_AGE`.
    :param base_url: the app's public root, e.g. ``https://app.example.com`` (default:
        ``STACKONE_PUBLIC_URL``, else ``SERVER_NAME``; see :func:`external_url`).
    :param link_id: this link's id (letters, digits, ``_``, ``-``; at most 64), to withdraw it
        later with ``STACKONE_ONBOARDING_LINK_CHECK``; default a random one.
    :param account_id: re-connect this account of ``owner`` (checked with StackOne when the
        link is used: another owner's account is refused).
    :param multiple: add another account even when the owner has one of the connector.
    :returns: the URL with its expiry, an :class:`OnboardingLink` (a ``str``).
    :raises InvalidOptionError: a bad provider, category, lifetime, link id, account id or
        ``multiple``.
    :raises ConfigurationError: no ``SECRET_KEY``, or no way to build an absolute URL.
    """
    state, lifetime, options = _prepare(
        blueprint,
        "onboarding_max_age",
        max_age,
        MAX_ONBOARDING_AGE,
        owner,
        provider,
        categories,
        account_id,
        multiple,
    )
    if link_id is None:
        link_id = secrets.token_urlsafe(12)
    elif not isinstance(link_id, str) or not LINK_ID.fullmatch(link_id):
        raise errors.InvalidOptionError(
            "link_id must be 1 to 64 letters, digits, '_' or '-'", code="invalid_link_id"
        )
    now = int(_now())
    payload: dict[str, Any] = {
        "v": PAYLOAD_VERSION,
        "i": link_id,
        "o": owner.id,
        "n": owner.name,
        "t": now,
        "e": now + lifetime,
    }
    if owner.username is not None:
        payload["u"] = owner.username
    if options["provider"]:
        payload["p"] = options["provider"]
    if options["categories"]:
        payload["c"] = options["categories"]
    if options["account_id"]:
        payload["a"] = options["account_id"]
    if options["multiple"]:
        payload["m"] = True
    signed = _serializer(state).dumps(payload)
    url = external_url(state, "onboarding_page", base_url, signed=signed)
    expires_at = datetime.fromtimestamp(now + lifetime, timezone.utc)
    return OnboardingLink(url, expires_at, lifetime, link_id)


def read_onboarding_link(state: StackOneState, signed: str) -> OnboardingGrant:
    """Check a signed value from an onboarding link.

    :raises LinkError: tampered, malformed or signed with an unknown key (400).
    :raises LinkExpired: past its expiry (410).
    """
    if len(signed) > MAX_SIGNED_LENGTH:
        raise LinkError("the link is longer than any signed link")
    try:
        data = _serializer(state).loads(signed)
    except BadData:
        raise LinkError("the link's signature does not match") from None
    if not isinstance(data, dict) or data.get("v") != PAYLOAD_VERSION:
        raise LinkError("the link's payload is not one this version signs")
    expires, username = data.get("e"), data.get("u")
    provider, categories = data.get("p"), data.get("c", [])
    link_id, issued = data.get("i"), data.get("t")
    account_id, multiple = data.get("a"), data.get("m", False)
    try:
        owner = Owner(data.get("o"), data.get("n"), username)  # type: ignore[arg-type]
    except ValueError:
        raise LinkError("the link names no valid owner") from None
    if (
        isinstance(expires, bool)
        or not isinstance(expires, int)
        or not (provider is None or isinstance(provider, str))
        or not isinstance(categories, list)
        or not all(isinstance(c, str) for c in categories)
        or not (link_id is None or (isinstance(link_id, str) and LINK_ID.fullmatch(link_id)))
        or not (issued is None or (isinstance(issued, int) and not isinstance(issued, bool)))
        or not (account_id is None or is_account_id(account_id))
        or not isinstance(multiple, bool)
        or (multiple and account_id is not None)
    ):
        raise LinkError("the link's payload is malformed")
    now = _now()
    if expires > now + MAX_ONBOARDING_AGE + 86400:  # never signed so far ahead (a day of skew)
        raise LinkError("the link claims an expiry further ahead than any link is signed for")
    if now >= expires:
        raise LinkExpired(f"the link expired {int(now - expires)} seconds ago")
    return OnboardingGrant(
        owner=owner,
        provider=provider,
        categories=tuple(categories),
        expires_at=datetime.fromtimestamp(expires, timezone.utc),
        link_id=link_id,
        issued_at=None if issued is None else datetime.fromtimestamp(issued, timezone.utc),
        account_id=account_id,
        multiple=multiple,
    )


def check_link_owner(state: StackOneState, grant: OnboardingGrant) -> None:
    """With ``STACKONE_ONBOARDING_REQUIRE_OWNER``, only the link's owner may use it.

    :raises WrongOwnerError: nobody, or another owner, is signed in.
    """
    if not state.settings.onboarding_require_owner:
        return
    owner = current_owner(state)
    if owner is None:
        raise errors.WrongOwnerError(
            f"the link is for owner {grant.owner.id}; nobody is signed in", signed_in=False
        )
    if owner.id != grant.owner.id:
        log.warning("onboarding link for owner %s opened by another owner", grant.owner.id)
        raise errors.WrongOwnerError(
            f"the link is for owner {grant.owner.id}; owner {owner.id} is signed in",
            signed_in=True,
        )


def check_link_still_valid(state: StackOneState, grant: OnboardingGrant) -> None:
    """Ask the host's ``STACKONE_ONBOARDING_LINK_CHECK``, when set, whether the link may
    still be used. :raises LinkRevoked: it answered a false value."""
    check = state.settings.onboarding_link_check
    if check is None:
        return
    if not current_app.ensure_sync(check)(grant):
        log.info("onboarding link %s of owner %s refused: withdrawn", grant.link_id, grant.owner.id)
        raise LinkRevoked(f"{state.settings.name('onboarding_link_check')} refused the link")


def open_link(state: StackOneState, signed: str) -> OnboardingGrant:
    """A link's grant, checked: signature, expiry, the host's link check (withdrawn links)
    and (when required) the signed-in owner.

    :raises LinkError: the link is invalid, expired or withdrawn.
    :raises WrongOwnerError: the link is another owner's.
    """
    grant = read_onboarding_link(state, signed)
    check_link_still_valid(state, grant)
    check_link_owner(state, grant)
    return grant


def grant_options(state: StackOneState, grant: OnboardingGrant) -> LinkOptions:
    """The options a link grants, checked against today's allow-lists.

    :raises InvalidOptionError: the link's connector is no longer offered.
    """
    return _link_options(
        state, grant.provider, grant.categories or None, grant.account_id, grant.multiple
    )


def link_session(state: StackOneState, grant: OnboardingGrant) -> ConnectSession:
    """A Connect Session for the link's owner, created now (the "Connect" click). A link
    that re-connects an account first checks with StackOne that it is still the owner's.

    :raises ForeignAccountError: the account now belongs to another owner.
    :raises NotFoundError: StackOne has no such account any more.
    :raises InvalidOptionError, ConfigurationError, StackOneError: as :func:`create_session`.
    """
    options = grant_options(state, grant)
    linked = linked_provider(state, grant)  # checked even when the link names a connector
    options["provider"] = options["provider"] or linked
    return create_session(state, grant.owner, state.settings.session_expires_in, options)


def linked_provider(state: StackOneState, grant: OnboardingGrant) -> str | None:
    """For a link that re-connects an account: check with StackOne that the account is still
    the link owner's, and return its connector. Other links: ``None``, no call.

    :raises ForeignAccountError: the account belongs to another owner.
    :raises NotFoundError: StackOne has no such account any more.
    """
    if grant.account_id is None:
        return None
    return owned_account(state, grant.owner, grant.account_id).provider
