"""flask-stackone: StackOne account linking for Flask apps.

Register :data:`stackone_bp`, tell it who the customer is with
``@stackone_bp.owner_loader``, render ``{{ stackone_hub() }}`` and receive the
``account_created`` / ``account_updated`` / ``account_deleted`` signals.
"""

from __future__ import annotations

from .__about__ import __version__
from .auth_links import AuthLink, create_auth_link, onboarding_link
from .blueprint import StackOneBlueprint, make_blueprint, stackone_bp
from .client import StackOneClient
from .delivery_store import DeliveryStore, MemoryDeliveryStore, SQLiteDeliveryStore
from .errors import (
    AuthenticationError,
    ConfigurationError,
    InvalidOptionError,
    InvalidPayloadError,
    InvalidRequestError,
    InvalidResponseError,
    NotFoundError,
    RateLimitedError,
    ServerError,
    SignatureVerificationError,
    StackOneConnectionError,
    StackOneError,
    StackOneTimeout,
    WebhookError,
)
from .models import (
    Account,
    AccountEvent,
    ConnectSession,
    Owner,
    SessionCreated,
    StatusReason,
    WebhookEvent,
)
from .signals import (
    account_created,
    account_deleted,
    account_updated,
    connect_session_created,
    webhook_received,
)
from .state import get_client, get_state
from .webhooks import construct_event, parse_event, verify_signature

__all__ = [
    "Account",
    "AccountEvent",
    "AuthLink",
    "AuthenticationError",
    "ConfigurationError",
    "ConnectSession",
    "DeliveryStore",
    "InvalidOptionError",
    "InvalidPayloadError",
    "InvalidRequestError",
    "InvalidResponseError",
    "MemoryDeliveryStore",
    "NotFoundError",
    "Owner",
    "RateLimitedError",
    "SQLiteDeliveryStore",
    "ServerError",
    "SessionCreated",
    "SignatureVerificationError",
    "StackOneBlueprint",
    "StackOneClient",
    "StackOneConnectionError",
    "StackOneError",
    "StackOneTimeout",
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
    "get_client",
    "get_state",
    "make_blueprint",
    "onboarding_link",
    "parse_event",
    "stackone_bp",
    "verify_signature",
    "webhook_received",
]
