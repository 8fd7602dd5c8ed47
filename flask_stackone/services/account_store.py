"""The host's own record of linked accounts, when it keeps one (``flask_stackone.sqla``'s
``LinkedAccounts`` is such a store): each app keeps its stores in ``app.extensions`` by
blueprint name, and the accounts panel renders from the store it finds there, without
calling StackOne."""

from __future__ import annotations

from typing import Protocol

from flask import Flask

from ..core.models import Account

#: Where an app keeps its stores in ``app.extensions``: a dict by blueprint name.
EXTENSION_KEY = "stackone_linked_accounts"


class AccountStore(Protocol):
    """What the accounts panel reads from a store."""

    def owner_accounts(self, owner_id: str) -> list[Account]:
        """The owner's accounts as last stored, deleted ones left out; no StackOne call."""
        ...


def register_store(app: Flask, blueprint_name: str, store: AccountStore) -> None:
    """Make ``store`` the record of blueprint ``blueprint_name``'s accounts on ``app``."""
    app.extensions.setdefault(EXTENSION_KEY, {})[blueprint_name] = store


def registered_stores(app: Flask) -> dict[str, AccountStore]:
    """``app``'s stores by blueprint name (empty when none is set up)."""
    stores: dict[str, AccountStore] = app.extensions.get(EXTENSION_KEY, {})
    return stores
