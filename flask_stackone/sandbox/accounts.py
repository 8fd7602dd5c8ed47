"""Linking, changing and deleting sandbox accounts, with their webhooks.

The magic values: a credential containing ``invalid`` is rejected the way StackOne
rejects credentials the provider refused; one containing ``error`` links an account
whose status is ``error`` with a ``status_reasons`` entry.
"""

from __future__ import annotations

import secrets
from typing import Any

from ..core.errors import FlaskStackOneError
from .connectors import BY_INTEGRATION_ID, BY_KEY, Connector
from .state import Sandbox, now_iso

#: Statuses the dashboard can set (StackOne's set is open; these are today's).
STATUSES = ("active", "inactive", "suspended", "archived", "expired", "error")


class SandboxError(FlaskStackOneError):
    """A request the sandbox refuses: ``status`` and StackOne's error fields."""

    def __init__(self, status: int, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.extra = extra

    def body(self) -> dict[str, Any]:
        return {
            "statusCode": self.status,
            "message": self.message,
            "timestamp": now_iso(),
            **self.extra,
        }


def public(account: dict[str, Any]) -> dict[str, Any]:
    """The account as StackOne's API shows it (the sandbox's own fields removed)."""
    return {k: v for k, v in account.items() if not k.startswith("_")}


def check_credentials(
    connector: Connector, credentials: Any, previous: dict[str, Any] | None = None
) -> tuple[dict[str, Any], list[str], list[dict[str, Any]]]:
    """Check what the user typed for ``connector``.

    :param previous: the account being re-connected: its fields may be left blank.
    :returns: ``(setup_information, secret field keys given, status_reasons)``; reasons
        are non-empty when a value contains ``error``.
    :raises SandboxError: 400 for a malformed body, a missing field, a bad choice, or a
        value containing ``invalid`` (the provider refused the credentials).
    """
    if not isinstance(credentials, dict):
        raise SandboxError(400, "credentials must be an object")
    known = set(previous.get("_secret_keys", [])) if previous else set()
    if previous:
        known |= set(previous.get("setup_information") or {})
    setup: dict[str, Any] = {}
    given: list[str] = []
    magic_error = False
    for field in connector.fields:
        value = credentials.get(field.key)
        if value is not None and not isinstance(value, (str, int, float, bool)):
            raise SandboxError(400, f"{field.label} must be text")
        text = "" if value is None else str(value).strip()
        if not text:
            if field.required and field.key not in known:
                raise SandboxError(400, f"{field.label} is required")
            continue
        if len(text) > 2000:
            raise SandboxError(400, f"{field.label} is too long")
        if field.options and text not in {v for v, _ in field.options}:
            raise SandboxError(400, f"{field.label} must be one of the offered choices")
        if "invalid" in text.lower():
            raise SandboxError(
                400,
                f"{connector.name} rejected the credentials: check {field.label}",
                provider_response=f"{connector.name} answered 401 Unauthorized "
                f"(sandbox: {field.label} contains 'invalid')",
                provider_errors=[
                    {"status": 401, "url": f"https://{connector.key}.sandbox.invalid/",
                     "raw": {"error": "invalid_credentials"}}
                ],
            )  # fmt: skip
        magic_error = magic_error or "error" in text.lower()
        if field.secret or field.type == "password":
            given.append(field.key)
        else:
            setup[field.key] = text
    reasons = []
    if magic_error:
        reasons.append(
            {
                "code": "provider_permissions",
                "description": f"{connector.name} accepted the credentials but refused to list "
                "employees: the user lacks permission (sandbox: a value contains 'error')",
                "timestamp": now_iso(),
            }
        )
    return setup, given, reasons


def sample_credentials(connector: Connector, *, error: bool = False) -> dict[str, str]:
    """Values for every field of ``connector`` that link an account, as a user would type
    them: the first choice of a select, a made-up value otherwise. With ``error``, the
    first free-text value contains ``error``, so the account links with status ``error``
    (a connector with no free-text field has no such value: its account links ``active``).
    """
    values = {
        f.key: f.options[0][0] if f.options else f"sandbox-{f.key.replace('_', '-')}"
        for f in connector.fields
    }
    free = [f.key for f in connector.fields if not f.options]
    if error and free:
        values[free[0]] = f"error-{values[free[0]]}"
    return values


def find_existing(
    sandbox: Sandbox, session: dict[str, Any], connector: Connector
) -> dict[str, Any] | None:
    """The account this session re-connects instead of creating one: the session's
    ``account_id``, or (unless ``multiple``) the owner's account of this provider."""
    if session.get("account_id"):
        account = sandbox.store.account(session["account_id"])
        if account is not None and account["provider"] == connector.key:
            return account
        return None
    if session.get("multiple"):
        return None
    for account in sandbox.store.accounts():
        if (
            account["provider"] == connector.key
            and account.get("origin_owner_id") == session["origin_owner_id"]
            and account.get("origin_owner_name") == session["origin_owner_name"]
        ):
            return account
    return None


def link(
    sandbox: Sandbox, session: dict[str, Any], connector: Connector, credentials: Any
) -> dict[str, Any]:
    """Create the account (``account.created``) or re-connect the existing one
    (``account.updated``) with ``credentials``. :raises SandboxError: refused."""
    existing = find_existing(sandbox, session, connector)
    if existing is not None:
        return reconnect(sandbox, existing, connector, credentials)
    setup, given, reasons = check_credentials(connector, credentials)
    now = now_iso()
    account = {
        "id": f"sbx_acc_{secrets.token_hex(6)}",
        "provider": connector.key,
        "provider_name": connector.name,
        "status": "error" if reasons else "active",
        "status_reasons": reasons,
        "origin_owner_id": session["origin_owner_id"],
        "origin_owner_name": session["origin_owner_name"],
        "origin_username": session.get("origin_username"),
        "label": session.get("label"),
        "setup_information": setup,
        "type": session.get("type") or "production",
        "created_at": now,
        "updated_at": now,
        "_integration_id": connector.integration_id,
        "_secret_keys": given,
        "_session_id": session["id"],
    }
    if session.get("metadata") is not None:
        account["metadata"] = session["metadata"]
    sandbox.store.save_account(account)
    sandbox.emit("account.created", account)
    return account


def reconnect(
    sandbox: Sandbox, account: dict[str, Any], connector: Connector, credentials: Any
) -> dict[str, Any]:
    """New credentials for ``account`` (edit mode); fires ``account.updated``."""
    setup, given, reasons = check_credentials(connector, credentials, previous=account)
    account = {
        **account,
        "status": "error" if reasons else "active",
        "status_reasons": reasons,
        "setup_information": {**(account.get("setup_information") or {}), **setup},
        "updated_at": now_iso(),
        "_secret_keys": sorted(set(account.get("_secret_keys", [])) | set(given)),
    }
    sandbox.store.save_account(account)
    sandbox.emit("account.updated", account)
    return account


def set_status(sandbox: Sandbox, account: dict[str, Any], status: str) -> dict[str, Any]:
    """Set ``status`` as if the provider changed it; fires ``account.updated``."""
    reasons = []
    if status != "active":
        reasons.append(
            {
                "code": status,
                "description": f"Status set to '{status}' from the sandbox dashboard",
                "timestamp": now_iso(),
            }
        )
    account = {**account, "status": status, "status_reasons": reasons, "updated_at": now_iso()}
    sandbox.store.save_account(account)
    sandbox.emit("account.updated", account)
    return account


#: ``PatchAccountExternalDto``: every field optional and nullable (``null``: unchanged).
#: Newer SDKs also send ``integration_id`` (the connector profile) and ``shared`` (a flag).
PATCH_TEXT = ("origin_owner_id", "origin_owner_name", "origin_username", "label",
              "provider", "type", "environment", "authentication_config_key",
              "integration_id")  # fmt: skip
PATCH_OBJECTS = ("setup_information", "metadata", "secrets", "credentials")
PATCH_FLAGS = ("shared",)


def _patch_text(key: str, value: Any) -> str | None:
    """A text field of a PATCH body, checked; ``None`` clears it (empty text)."""
    if key == "label" and isinstance(value, dict) and not value:
        return None  # StackOne's spec once typed label as an object; {} changes nothing
    if not isinstance(value, str) or len(value) > 255:
        raise SandboxError(400, f"{key} must be a string of at most 255 characters")
    value = value.strip()
    if not value and key in ("origin_owner_id", "origin_owner_name", "provider", "type"):
        raise SandboxError(400, f"{key} must not be empty")
    if key == "provider" and value not in BY_KEY:
        raise SandboxError(400, f"provider {value[:100]!r} is not enabled for this project")
    if key == "integration_id" and value and value not in BY_INTEGRATION_ID:
        raise SandboxError(400, f"integration_id {value[:100]!r} is not a connector profile")
    if key == "type" and value not in ("production", "test"):
        raise SandboxError(400, "type must be one of production, test")
    return value or None


def update(sandbox: Sandbox, account: dict[str, Any], changes: Any) -> dict[str, Any]:
    """``PATCH /accounts/{id}``: apply a ``PatchAccountExternalDto``; fires ``account.updated``.

    ``setup_information`` is merged into the account's; ``credentials`` and ``secrets`` are
    taken as given and never shown again; ``null`` leaves a field as it is.

    :raises SandboxError: 400 for an unknown field or a value of the wrong type.
    """
    if not isinstance(changes, dict):
        raise SandboxError(400, "body must be a JSON object")
    unknown = sorted(set(changes) - set(PATCH_TEXT) - set(PATCH_OBJECTS) - set(PATCH_FLAGS))
    if unknown:
        raise SandboxError(400, f"property {unknown[0][:100]} should not exist")
    changes = {k: v for k, v in changes.items() if v is not None}
    for key in PATCH_OBJECTS:
        if key in changes and not isinstance(changes[key], dict):
            raise SandboxError(400, f"{key} must be an object")
    for key in PATCH_FLAGS:
        if key in changes and not isinstance(changes[key], bool):
            raise SandboxError(400, f"{key} must be a boolean")
    texts = {k: _patch_text(k, changes[k]) for k in PATCH_TEXT if k in changes}
    if "label" in changes and isinstance(changes["label"], dict):
        del texts["label"]
    account = dict(account)
    for key in ("origin_owner_id", "origin_owner_name", "origin_username", "label", "type"):
        if key in texts:
            account[key] = texts[key]
    if "provider" in texts and texts["provider"] != account["provider"]:
        connector = BY_KEY[texts["provider"]]  # type: ignore[index]
        account.update(
            provider=connector.key,
            provider_name=connector.name,
            _integration_id=connector.integration_id,
        )
    if texts.get("integration_id"):
        connector = BY_INTEGRATION_ID[texts["integration_id"]]  # type: ignore[index]
        account.update(
            provider=connector.key,
            provider_name=connector.name,
            _integration_id=connector.integration_id,
        )
    if "shared" in changes:
        account["_shared"] = changes["shared"]
    if "environment" in texts:
        account["_environment"] = texts["environment"]
    if "authentication_config_key" in texts:
        account["_auth_config_key"] = texts["authentication_config_key"]
    if "setup_information" in changes:
        account["setup_information"] = {
            **(account.get("setup_information") or {}),
            **changes["setup_information"],
        }
    if "metadata" in changes:
        account["metadata"] = changes["metadata"]
    given = {*changes.get("credentials", {}), *changes.get("secrets", {})}
    account["_secret_keys"] = sorted(set(account.get("_secret_keys", [])) | given)
    account["updated_at"] = now_iso()
    sandbox.store.save_account(account)
    sandbox.emit("account.updated", account)
    return account


def delete(sandbox: Sandbox, account: dict[str, Any]) -> dict[str, Any]:
    """Delete ``account``; fires ``account.deleted``; returns it."""
    sandbox.store.delete_account(account["id"])
    sandbox.emit("account.deleted", account)
    return account
