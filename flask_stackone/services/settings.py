"""The settings of one blueprint on one app, as the services read them.

``flask_stackone.config`` reads and checks the ``STACKONE_*`` keys into a :class:`Settings`;
the services only read its fields.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from ..core.models import redacted_repr


@dataclass(frozen=True)
class Settings:
    """The settings of one blueprint on one app, checked. Secrets are hidden from ``repr``."""

    prefix: str
    api_key: str | None
    api_url: str
    webhook_secret: tuple[str, ...]
    sandbox: bool
    timeout: float
    max_retries: int
    max_retry_wait: float
    providers: frozenset[str] | None
    categories: frozenset[str] | None
    session_expires_in: int
    auth_link_expires_in: int
    onboarding_max_age: int
    onboarding_mode: str
    onboarding_require_owner: bool
    onboarding_link_check: Callable[..., Any] | None
    public_url: str | None
    webhook_max_bytes: int
    webhook_max_age: int | None
    delivery_store: Any
    delivery_wait: float
    delivery_lease: float
    hub_dir: str | None
    hub_script_url: str | None
    hub_app_url: str | None
    provider_names: Mapping[str, str] | None
    brand_name: str | None
    brand_logo_url: str | None
    locale: str | Callable[[], Any] | None
    messages: Mapping[str, str | Mapping[str, str]] | None
    #: The settings of the mounted sandbox (a ``SandboxConfig``), when it is on. The sandbox
    #: reads its ``STACKONE_SANDBOX_*`` keys itself; the plugin only passes them on.
    sandbox_config: Any = None

    def __repr__(self) -> str:
        return redacted_repr(self)

    def name(self, key: str) -> str:
        """The config key as the user writes it, e.g. ``STACKONE_API_KEY``."""
        return self.prefix + key.upper()
