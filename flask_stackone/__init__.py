"""flask-stackone: StackOne account linking for Flask apps.

Register :data:`stackone_bp`, tell it who the customer is with
``@stackone_bp.owner_loader``, render ``{{ stackone_hub() }}`` and receive the
``account_created`` / ``account_updated`` / ``account_deleted`` signals.

Every public name is imported on first use (PEP 562), so ``import flask_stackone`` stays
cheap and loads neither the sandbox nor the testing helpers.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from .__about__ import __version__

#: Each public name and the module that defines it.
_EXPORTS: dict[str, str] = {
    **dict.fromkeys(["make_blueprint", "stackone_bp"], "flask_stackone.blueprint"),
    **dict.fromkeys(["get_client", "get_state"], "flask_stackone.services.state"),
    **dict.fromkeys(
        ["AuthLink", "OnboardingGrant", "OnboardingLink", "create_auth_link", "onboarding_link"],
        "flask_stackone.services.onboarding",
    ),
    "StackOneClient": "flask_stackone.core.client",
    **dict.fromkeys(
        ["DeliveryStore", "MemoryDeliveryStore", "SQLiteDeliveryStore"],
        "flask_stackone.core.stores",
    ),
    "RedisDeliveryStore": "flask_stackone.core.stores.redis",
    "SQLDeliveryStore": "flask_stackone.core.stores.sql",
    **dict.fromkeys(["LinkedAccountMixin", "LinkedAccounts"], "flask_stackone.sqla"),
    **dict.fromkeys(
        [
            "ConfigurationError",
            "FlaskStackOneError",
            "InvalidOptionError",
            "NotFoundError",
            "SignatureVerificationError",
            "StackOneError",
            "WebhookError",
        ],
        "flask_stackone.core.errors",
    ),
    **dict.fromkeys(
        [
            "Account",
            "AccountEvent",
            "ConnectSession",
            "Owner",
            "SessionCreated",
            "StatusReason",
            "WebhookEvent",
        ],
        "flask_stackone.core.models",
    ),
    **dict.fromkeys(
        [
            "account_created",
            "account_deleted",
            "account_updated",
            "connect_session_created",
            "webhook_received",
        ],
        "flask_stackone.signals",
    ),
    **dict.fromkeys(
        ["construct_event", "parse_event", "verify_signature"], "flask_stackone.core.webhooks"
    ),
    "errors": "flask_stackone.errors",
}

__all__ = [
    "Account",
    "AccountEvent",
    "AuthLink",
    "ConfigurationError",
    "ConnectSession",
    "DeliveryStore",
    "FlaskStackOneError",
    "InvalidOptionError",
    "LinkedAccountMixin",
    "LinkedAccounts",
    "MemoryDeliveryStore",
    "NotFoundError",
    "OnboardingGrant",
    "OnboardingLink",
    "Owner",
    "RedisDeliveryStore",
    "SQLDeliveryStore",
    "SQLiteDeliveryStore",
    "SessionCreated",
    "SignatureVerificationError",
    "StackOneClient",
    "StackOneError",
    "StatusReason",
    "WebhookError",
    "WebhookEvent",
    "__version__",
    "account_created",
    "account_deleted",
    "account_updated",
    "connect_session_created",
    "construct_event",
    "create_auth_link",
    "errors",
    "get_client",
    "get_state",
    "make_blueprint",
    "onboarding_link",
    "parse_event",
    "stackone_bp",
    "verify_signature",
    "webhook_received",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'flask_stackone' has no attribute {name!r}")
    found = importlib.import_module(module)
    value = found if name == "errors" else getattr(found, name)
    globals()[name] = value  # the next lookup is a plain attribute
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])


if TYPE_CHECKING:
    from . import errors as errors
    from . import signals as signals
    from .blueprint import make_blueprint, stackone_bp
    from .core.client import StackOneClient
    from .core.errors import (
        ConfigurationError,
        FlaskStackOneError,
        InvalidOptionError,
        NotFoundError,
        SignatureVerificationError,
        StackOneError,
        WebhookError,
    )
    from .core.models import (
        Account,
        AccountEvent,
        ConnectSession,
        Owner,
        SessionCreated,
        StatusReason,
        WebhookEvent,
    )
    from .core.stores import DeliveryStore, MemoryDeliveryStore, SQLiteDeliveryStore
    from .core.stores.redis import RedisDeliveryStore
    from .core.stores.sql import SQLDeliveryStore
    from .core.webhooks import construct_event, parse_event, verify_signature
    from .services.onboarding import (
        AuthLink,
        OnboardingGrant,
        OnboardingLink,
        create_auth_link,
        onboarding_link,
    )
    from .services.state import get_client, get_state
    from .signals import (
        account_created,
        account_deleted,
        account_updated,
        connect_session_created,
        webhook_received,
    )
    from .sqla import LinkedAccountMixin, LinkedAccounts
