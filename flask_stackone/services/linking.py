"""Linking an account: who is linking, which options are allowed, creating the session,
and confirming the account the Hub reports."""

from __future__ import annotations

import logging
import re
import unicodedata
from collections.abc import Mapping
from datetime import timedelta
from typing import Any, TypedDict

from flask import current_app

from .. import signals
from ..core.errors import (
    ConfigurationError,
    ForeignAccountError,
    InvalidOptionError,
)
from ..core.models import (
    CATEGORIES,
    SLUG,
    Account,
    ConnectSession,
    Owner,
    SessionCreated,
)
from .account_events import send_account_event
from .settings import Settings
from .state import StackOneState

log = logging.getLogger("flask_stackone")

#: The Hub's success for an account last changed this long after its creation was an edit of
#: an account that existed before (StackOne sends ``account.updated`` for it), not a creation.
RELINKED_AFTER = timedelta(seconds=60)
#: A StackOne account id: never "." or "..", matched against the whole value.
ACCOUNT_ID = re.compile(r"(?!\.{1,2}\Z)[A-Za-z0-9_.:-]{1,128}")


class LinkOptions(TypedDict):
    """Checked options of one session: what the Hub offers."""

    provider: str | None
    categories: list[str] | None
    account_id: str | None
    #: ``True``: link another account even when the owner has one of this connector
    #: (StackOne otherwise re-links the existing one); ``None`` sends nothing.
    multiple: bool | None
    #: The name the person gives the account (``None``: none).
    label: str | None


#: What the ``session_fields`` hook may add to a session: the fields the plugin does not set
#: from the owner and the checked options itself.
SESSION_FIELDS = frozenset({"label", "metadata", "type", "connector_profile_id"})
#: StackOne's account types.
ACCOUNT_TYPES = frozenset({"production", "test"})
#: The longest label (StackOne's text fields take 255 characters).
MAX_LABEL = 255
#: The Unicode categories a label may not have a character of: control characters
#: (C0, DEL and C1) and the line and paragraph separators.
NOT_IN_LABEL = frozenset({"Cc", "Zl", "Zp"})


def is_account_id(value: object) -> bool:
    """True when ``value`` has the form of a StackOne account id."""
    return isinstance(value, str) and ACCOUNT_ID.fullmatch(value) is not None


def current_owner(state: StackOneState) -> Owner | None:
    """The signed-in customer, from the host's owner loader (on the server).

    :raises ConfigurationError: no owner loader was registered.
    :raises TypeError: the loader returned something other than an ``Owner`` or ``None``.
    """
    loader = state.owner_loader()
    if loader is None:
        raise ConfigurationError(
            f"no owner loader for the StackOne blueprint {state.name!r}: decorate the "
            f"function that returns the signed-in Owner with {state.loader_hint}"
        )
    owner = current_app.ensure_sync(loader)()
    if owner is not None and not isinstance(owner, Owner):
        raise TypeError(f"owner_loader must return an Owner or None, not {type(owner).__name__}")
    return owner


def check_label(value: Any) -> str | None:
    """A label: text of 1 to 255 characters without control characters or line breaks,
    spaces trimmed; ``None`` passes.

    :raises InvalidOptionError: anything else (code ``invalid_label``).
    """
    if value is None:
        return None
    if (
        not isinstance(value, str)
        or not value.strip()
        or len(value) > MAX_LABEL
        or any(unicodedata.category(c) in NOT_IN_LABEL for c in value)
    ):
        raise InvalidOptionError(
            f"label must be text of 1 to {MAX_LABEL} characters", code="invalid_label"
        )
    return value.strip()


def check_options(settings: Settings, data: dict[str, Any]) -> LinkOptions:
    """Validate ``provider``, ``categories``, ``account_id``, ``multiple`` and ``label`` (the
    allow-lists for the first two).

    :raises InvalidOptionError: naming the first bad option.
    """
    provider = data.get("provider")
    if provider is not None:
        if not isinstance(provider, str) or not SLUG.fullmatch(provider):
            raise InvalidOptionError("provider must be a connector key", code="invalid_provider")
        if settings.providers is not None and provider not in settings.providers:
            raise InvalidOptionError(
                f"provider {provider!r} is not offered", code="provider_not_allowed"
            )
    categories = data.get("categories")
    if categories is not None:
        if isinstance(categories, str):
            categories = [categories]
        if not isinstance(categories, list) or not all(isinstance(c, str) for c in categories):
            raise InvalidOptionError(
                "categories must be a list of strings", code="invalid_category"
            )
        allowed = settings.categories if settings.categories is not None else CATEGORIES
        bad = [c for c in categories if c not in allowed]
        if bad:
            raise InvalidOptionError(
                f"category not offered: {bad[0][:64]!r}", code="invalid_category"
            )
        categories = sorted(set(categories))
    if not categories and settings.categories is not None:  # [] must not widen the allow-list
        categories = sorted(settings.categories)
    account_id = data.get("account_id")
    if account_id is not None and not is_account_id(account_id):
        raise InvalidOptionError(
            "account_id must be a StackOne account id", code="invalid_account_id"
        )
    multiple = data.get("multiple")
    if multiple is not None and not isinstance(multiple, bool):
        raise InvalidOptionError("multiple must be true or false", code="invalid_multiple")
    if multiple and account_id is not None:
        raise InvalidOptionError(
            "multiple adds an account; account_id re-connects one: not both",
            code="invalid_multiple",
        )
    return {
        "provider": provider,
        "categories": categories or None,
        "account_id": account_id,
        "multiple": multiple or None,
        "label": check_label(data.get("label")),
    }


def owned_account(state: StackOneState, owner: Owner, account_id: str) -> Account:
    """The account, read from StackOne, if it belongs to ``owner``.

    :raises InvalidOptionError: ``account_id`` is not an account id.
    :raises NotFoundError: StackOne has no such account.
    :raises ForeignAccountError: it belongs to another owner.
    :raises StackOneError: StackOne failed.
    """
    if not is_account_id(account_id):
        raise InvalidOptionError("not a StackOne account id", code="invalid_account_id")
    account = state.client.get_account(account_id)
    if account.origin_owner_id != owner.id:
        log.warning("owner %s asked for account %s of another owner", owner.id, account_id)
        raise ForeignAccountError("this account belongs to another customer")
    return account


def session_fields(state: StackOneState, owner: Owner, options: LinkOptions) -> dict[str, Any]:
    """The fields the host's ``session_fields`` hook adds to a session of ``owner``, checked:
    ``label`` (text), ``metadata`` (an object), ``type`` (``production`` or ``test``),
    ``connector_profile_id`` (text). Without a hook: only the options' ``label``.

    :raises TypeError: the hook returned something else than a mapping of those fields.
    """
    fields: dict[str, Any] = {"label": options["label"]}
    hook = state.session_fields()
    if hook is None:
        return fields
    added = current_app.ensure_sync(hook)(owner, dict(options))
    if added is None:
        return fields
    if not isinstance(added, Mapping):
        raise TypeError(f"session_fields must return a mapping, not {type(added).__name__}")
    unknown = sorted(set(added) - SESSION_FIELDS)
    if unknown:
        raise TypeError(
            f"session_fields may set {', '.join(sorted(SESSION_FIELDS))}; not {unknown[0]!r}"
        )
    metadata, kind, profile = (added.get(k) for k in ("metadata", "type", "connector_profile_id"))
    if metadata is not None and not isinstance(metadata, Mapping):
        raise TypeError("session_fields: metadata must be a mapping")
    if kind is not None and kind not in ACCOUNT_TYPES:
        raise TypeError(f"session_fields: type must be one of {sorted(ACCOUNT_TYPES)}")
    if profile is not None and not isinstance(profile, str):
        raise TypeError("session_fields: connector_profile_id must be a string")
    try:
        label = check_label(added.get("label"))
    except InvalidOptionError as exc:
        raise TypeError(f"session_fields: {exc}") from None
    return {
        **fields,
        **{k: v for k, v in added.items() if v is not None},
        "label": label or options["label"],
        **({"metadata": dict(metadata)} if metadata is not None else {}),
    }


def create_session(
    state: StackOneState,
    owner: Owner,
    expires_in: int,
    options: LinkOptions,
) -> ConnectSession:
    """Create a Connect Session for ``owner`` with checked ``options`` and the host's
    :func:`session_fields`, and send the ``connect_session_created`` audit signal.

    :raises ConfigurationError: no API key. :raises StackOneError: StackOne failed.
    :raises TypeError: the ``session_fields`` hook returned something unusable.
    """
    session = state.client.create_connect_session(
        origin_owner_id=owner.id,
        origin_owner_name=owner.name,
        origin_username=owner.username,
        expires_in=expires_in,
        provider=options["provider"],
        categories=options["categories"],
        account_id=options["account_id"],
        multiple=options["multiple"],
        **session_fields(state, owner, options),
    )
    signals.send(
        signals.connect_session_created,
        current_app._get_current_object(),  # type: ignore[attr-defined]
        SessionCreated(
            session_id=session.id,
            owner_id=owner.id,
            provider=options["provider"],
            categories=tuple(options["categories"] or ()),
            account_id=options["account_id"],
            expires_at=session.expires_at,
        ),
    )
    return session


def start_session(state: StackOneState, owner: Owner, data: dict[str, Any]) -> ConnectSession:
    """The token route's rule: check the options; re-connecting needs an account of this
    owner (its provider is kept); then create the session."""
    options = check_options(state.settings, data)
    if options["account_id"]:
        account = owned_account(state, owner, options["account_id"])
        options["provider"] = options["provider"] or account.provider
    return create_session(state, owner, state.settings.session_expires_in, options)


def was_relinked(account: Account) -> bool:
    """True when the account existed before this linking: StackOne last changed it more
    than :data:`RELINKED_AFTER` after creating it. Linking the same provider again for the
    same owner (without ``multiple``) edits that account, and StackOne's webhook then says
    ``account.updated``. Without both timestamps: ``False``."""
    if account.created_at is None or account.updated_at is None:
        return False
    return account.updated_at - account.created_at > RELINKED_AFTER


def confirm_account(
    state: StackOneState, owner: Owner, account_id: str, *, reconnect: bool
) -> Account:
    """The Hub reported success: check the account with StackOne, then send, with source
    ``hub``, the kind of event StackOne's webhook sends for it: ``account_updated`` when
    re-connecting or when the Hub edited an existing account (:func:`was_relinked`),
    ``account_created`` otherwise.

    :raises ReceiverError: a receiver failed (the account is linked but not recorded).
    """
    account = owned_account(state, owner, account_id)
    updated = reconnect or was_relinked(account)
    event_type = "account.updated" if updated else "account.created"
    send_account_event(account, event_type, "hub", done="linked")
    return account
