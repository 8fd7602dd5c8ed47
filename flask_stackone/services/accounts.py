"""The signed-in owner's linked accounts: listing them from StackOne with their connectors'
names and logos, and disconnecting one."""

from __future__ import annotations

import itertools
import logging
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from ..core.client import is_local_url
from ..core.models import Account, ConnectorMeta, Owner, format_datetime
from .account_events import send_account_event
from .account_store import AccountStore
from .linking import check_options, owned_account
from .state import StackOneState

log = logging.getLogger("flask_stackone")

#: The most accounts one listing reads (a StackOne that ignored ``page`` would otherwise
#: answer full pages forever).
MAX_ACCOUNTS = 1000
#: ``AccountEvent.source`` of a disconnection made through the app.
SOURCE = "app"


@dataclass(frozen=True)
class LinkedAccount:
    """An account as the accounts panel shows it.

    :ivar name: the connector's display name (StackOne's connectors meta, else the
        account's ``provider_name``, else its provider key).
    :ivar logo_url: the connector's logo, only an https URL (or http on this machine).
    :ivar category: the connector's category (``hris``, ``ats`` ...), when StackOne says.
    """

    account: Account
    name: str
    logo_url: str | None
    category: str | None

    def as_json(self) -> dict[str, Any]:
        """What the browser may see: no setup information, no owner details."""
        account = self.account
        return {
            "id": account.id,
            "provider": account.provider,
            "name": self.name,
            "label": account.label,
            "category": self.category,
            "logo_url": self.logo_url,
            "status": account.status,
            "status_reasons": [asdict(r) for r in account.status_reasons],
            "created_at": _iso(account.created_at),
            "updated_at": _iso(account.updated_at),
        }


def _iso(moment: datetime | None) -> str | None:
    return format_datetime(moment, "seconds") if moment is not None else None


def safe_image_url(url: str | None) -> str | None:
    """``url`` if a page may load it as an image: https, or http on this machine."""
    if not url or len(url) > 2048:
        return None
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    if not parts.hostname or any(c in url for c in "\"'<> \t\r\n\\"):
        return None
    if parts.scheme == "https" or (parts.scheme == "http" and is_local_url(url)):
        return url
    return None


def connectors(state: StackOneState) -> dict[str, ConnectorMeta]:
    """StackOne's connectors meta by provider key, cached for ten minutes per app.

    Never raises for StackOne's sake: when the call fails the panel falls back to the
    accounts' own provider names and monograms, and asks again a minute later.
    """

    def load() -> dict[str, ConnectorMeta]:
        return {meta.provider: meta for meta in state.client.list_connectors_meta()}

    def fallback(exc: Exception) -> dict[str, ConnectorMeta]:
        log.warning("StackOne's connectors meta could not be read (names and logos): %s", exc)
        return {}

    return state.connectors.get(load, fallback)


def describe(account: Account, known: dict[str, ConnectorMeta]) -> LinkedAccount:
    """``account`` with its connector's display name, logo and category."""
    meta = known.get(account.provider or "")
    name = (
        (meta.provider_name if meta else None)
        or account.provider_name
        or account.provider
        or "Unknown system"
    )
    return LinkedAccount(
        account=account,
        name=name,
        logo_url=safe_image_url(meta.logo_url) if meta else None,
        category=meta.category if meta else None,
    )


def list_owner_accounts(
    state: StackOneState,
    owner: Owner,
    *,
    provider: str | None = None,
    categories: Iterable[str] | None = None,
) -> list[LinkedAccount]:
    """The owner's linked accounts read from StackOne (every page), sorted by name.

    Each account's ``origin_owner_id`` is checked again here: an account of another owner
    is never listed, whatever StackOne answered. ``provider`` keeps one connector's
    accounts; ``categories`` keeps those whose connector is of one of these categories
    (an account whose connector's category StackOne does not say is kept).

    :raises ConfigurationError: no API key. :raises StackOneError: StackOne failed.
    """
    found = state.client.iter_accounts(
        owner_id=owner.id, providers=[provider] if provider else None
    )
    accounts = []
    for account in itertools.islice(found, MAX_ACCOUNTS):
        if account.origin_owner_id != owner.id:
            log.warning("StackOne listed account %s of another owner: left out", account.id)
            continue
        if provider and account.provider != provider:
            continue
        accounts.append(account)
    return _listed(accounts, connectors(state) if accounts else {}, categories)


def list_stored_accounts(
    state: StackOneState,
    store: AccountStore,
    owner: Owner,
    *,
    provider: str | None = None,
    categories: Iterable[str] | None = None,
) -> list[LinkedAccount]:
    """The owner's linked accounts as the host's ``store`` has them, filtered and sorted as
    :func:`list_owner_accounts` does, without calling StackOne: the connectors' names and
    logos only when they are already cached (else the account's own provider name or key).
    """
    accounts = [
        account
        for account in store.owner_accounts(owner.id)
        if not provider or account.provider == provider
    ]
    return _listed(accounts, state.connectors.peek() or {}, categories)


def _listed(
    accounts: Iterable[Account], known: dict[str, ConnectorMeta], categories: Iterable[str] | None
) -> list[LinkedAccount]:
    """``accounts`` described with ``known`` connectors, those of other ``categories`` left
    out (an account of an unknown category is kept), sorted by name, then age."""
    wanted = set(categories or ())
    listed = [describe(account, known) for account in accounts]
    if wanted:
        listed = [item for item in listed if item.category is None or item.category in wanted]
    return sorted(
        listed, key=lambda item: (item.name.casefold(), _iso(item.account.created_at) or "")
    )


def list_options(state: StackOneState, data: dict[str, Any]) -> dict[str, Any]:
    """The list's filters (``provider``, ``categories``), checked like the Hub's options.

    :raises InvalidOptionError: naming the first bad option.
    """
    options = check_options(state.settings, {k: data.get(k) for k in ("provider", "categories")})
    return {"provider": options["provider"], "categories": options["categories"]}


def disconnect(state: StackOneState, owner: Owner, account_id: str) -> Account:
    """Delete the owner's account at StackOne, then send ``account_deleted`` with source
    ``app``, as StackOne's own ``account.deleted`` webhook does later.

    :raises InvalidOptionError: not an account id. :raises NotFoundError: unknown.
    :raises ForeignAccountError: another owner's account (nothing is deleted).
    :raises StackOneError: StackOne failed.
    :raises ReceiverError: a receiver failed (the account is deleted at StackOne).
    """
    account = owned_account(state, owner, account_id)
    deleted = state.client.delete_account(account.id)
    log.info("owner %s disconnected account %s (%s)", owner.id, account.id, account.provider)
    send_account_event(
        account, "account.deleted", SOURCE, done="disconnected", provider=deleted.provider
    )
    return account
