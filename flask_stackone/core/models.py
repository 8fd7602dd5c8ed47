"""Frozen dataclasses for what StackOne sends and what the plugin emits.

Parsing is lenient: unknown fields are kept in ``raw``, missing optional ones are
``None``, and unknown status values are kept as they are.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field, fields
from datetime import datetime, timedelta, timezone
from typing import Any, cast

ACCOUNT_EVENTS = ("account.created", "account.updated", "account.deleted")

CATEGORIES = frozenset(
    {
        "ats", "hris", "hris-legacy", "crm", "iam", "marketing", "lms", "stackone",
        "documents", "ticketing", "screening", "messaging", "accounting", "scheduling",
    }
)  # fmt: skip
#: A connector key or category: matched against the whole value (``fullmatch``).
SLUG = re.compile(r"[a-z0-9][a-z0-9_.-]{0,63}")


def parse_datetime(value: Any) -> datetime | None:
    """Parse an ISO 8601 timestamp (``Z`` allowed) to an aware datetime, or ``None``."""
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def format_datetime(moment: datetime | None = None, timespec: str = "milliseconds") -> str:
    """``moment`` (default: now) in UTC as StackOne writes it: ISO 8601 ending in ``Z``."""
    moment = datetime.now(timezone.utc) if moment is None else moment.astimezone(timezone.utc)
    return moment.isoformat(timespec=timespec).replace("+00:00", "Z")


def redacted_repr(obj: Any, hidden: Iterable[str] = ("api_key", "webhook_secret")) -> str:
    """``Name(field=value, ...)`` of a dataclass with the ``hidden`` fields shown as ``***``."""
    hidden = frozenset(hidden)
    shown = ", ".join(
        f"{f.name}={'***' if f.name in hidden else repr(getattr(obj, f.name))}" for f in fields(obj)
    )
    return f"{type(obj).__name__}({shown})"


def _json_ready(value: Any) -> Any:
    if isinstance(value, datetime):
        return format_datetime(value, "auto")
    if isinstance(value, JSONReady):
        return value.to_dict()
    if isinstance(value, (tuple, list)):
        return [_json_ready(item) for item in value]
    if isinstance(value, dict):
        return {str(key): _json_ready(item) for key, item in value.items()}
    return value


class JSONReady:
    """Gives the dataclasses below their JSON-ready form, :meth:`to_dict`."""

    __slots__ = ()

    def to_dict(self) -> dict[str, Any]:
        """The fields as values ``json.dumps`` takes as they are: datetimes as ISO 8601 strings
        in UTC (``2025-05-01T10:00:00Z``), tuples as lists, nested models (``status_reasons``)
        as dicts. Fields kept out of ``repr`` are left out here too: the session's token and
        auth link (credentials), ``setup_information``, and ``raw`` (StackOne's answer as sent).
        """
        return {
            f.name: _json_ready(getattr(self, f.name)) for f in fields(cast(Any, self)) if f.repr
        }


def _str_or_none(value: Any) -> str | None:
    if value is None or isinstance(value, (dict, list)):
        return None
    return str(value)


@dataclass(frozen=True)
class Owner(JSONReady):
    """The customer (usually an organisation of your app) who links accounts.

    ``id`` and ``name`` become StackOne's ``origin_owner_id`` / ``origin_owner_name``;
    ``username`` (optional) its ``origin_username``.
    """

    id: str
    name: str
    username: str | None = None

    def __post_init__(self) -> None:
        for attr in ("id", "name"):
            value = getattr(self, attr)
            if not isinstance(value, str) or not value.strip():
                raise ValueError(f"Owner.{attr} must be a non-empty string, got {value!r}")
        if self.username is not None and not isinstance(self.username, str):
            raise ValueError(f"Owner.username must be a string or None, got {self.username!r}")


@dataclass(frozen=True)
class ConnectSession(JSONReady):
    """A StackOne Connect Session. ``token`` is for the Hub only and never logged."""

    id: str
    token: str = field(repr=False)
    auth_link_url: str | None = field(default=None, repr=False)
    expires_in: int = 1800
    expires_at: datetime | None = None
    organization_id: str | None = None
    project_id: str | None = None
    origin_owner_id: str | None = None
    origin_owner_name: str | None = None
    origin_username: str | None = None
    provider: str | None = None
    categories: tuple[str, ...] = ()
    account_id: str | None = None
    label: str | None = None
    type: str | None = None
    created_at: datetime | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_api(
        cls, data: dict[str, Any], *, expires_in: int, requested_at: datetime
    ) -> ConnectSession:
        """Build from StackOne's 201 answer; ``expires_at`` is counted from ``requested_at``."""
        return cls(
            id=str(data["id"]),
            token=str(data["token"]),
            auth_link_url=_str_or_none(data.get("auth_link_url")),
            expires_in=expires_in,
            expires_at=requested_at + timedelta(seconds=expires_in),
            organization_id=_str_or_none(data.get("organization_id")),
            project_id=_str_or_none(data.get("project_id")),
            origin_owner_id=_str_or_none(data.get("origin_owner_id")),
            origin_owner_name=_str_or_none(data.get("origin_owner_name")),
            origin_username=_str_or_none(data.get("origin_username")),
            provider=_str_or_none(data.get("provider")),
            categories=tuple(str(c) for c in data.get("categories") or ()),
            account_id=_str_or_none(data.get("account_id")),
            label=_str_or_none(data.get("label")),
            type=_str_or_none(data.get("type")),
            created_at=parse_datetime(data.get("created_at")),
            raw=dict(data),
        )


@dataclass(frozen=True)
class AuthenticatedSession(JSONReady):
    """What StackOne knows of a session token (``POST /connect_sessions/authenticate``): the
    session without its token or auth link. ``latest_connection_attempt`` is kept as sent."""

    id: str
    organization_id: str | None = None
    project_id: str | None = None
    origin_owner_id: str | None = None
    origin_owner_name: str | None = None
    origin_username: str | None = None
    provider: str | None = None
    categories: tuple[str, ...] = ()
    account_id: str | None = None
    label: str | None = None
    type: str | None = None
    metadata: dict[str, Any] | None = field(default=None, repr=False)
    connector_profile_id: str | None = None
    created_at: datetime | None = None
    latest_connection_attempt: dict[str, Any] | None = field(default=None, repr=False)
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_api(cls, data: dict[str, Any]) -> AuthenticatedSession:
        """Build from StackOne's answer; ``integration_id`` (the older name) is read as
        ``connector_profile_id``."""
        metadata, attempt = data.get("metadata"), data.get("latest_connection_attempt")
        profile = data.get("connector_profile_id") or data.get("integration_id")
        return cls(
            id=str(data["id"]),
            organization_id=_str_or_none(data.get("organization_id")),
            project_id=_str_or_none(data.get("project_id")),
            origin_owner_id=_str_or_none(data.get("origin_owner_id")),
            origin_owner_name=_str_or_none(data.get("origin_owner_name")),
            origin_username=_str_or_none(data.get("origin_username")),
            provider=_str_or_none(data.get("provider")),
            categories=tuple(str(c) for c in data.get("categories") or ()),
            account_id=_str_or_none(data.get("account_id")),
            label=_str_or_none(data.get("label")),
            type=_str_or_none(data.get("type")),
            metadata=dict(metadata) if isinstance(metadata, dict) else None,
            connector_profile_id=_str_or_none(profile),
            created_at=parse_datetime(data.get("created_at")),
            latest_connection_attempt=dict(attempt) if isinstance(attempt, dict) else None,
            raw=dict(data),
        )


@dataclass(frozen=True)
class AccountMeta(JSONReady):
    """An account's connector, category and data models (``GET /accounts/{id}/meta``)."""

    provider: str | None = None
    category: str | None = None
    models: dict[str, Any] = field(default_factory=dict, repr=False)
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_api(cls, data: dict[str, Any]) -> AccountMeta:
        models = data.get("models")
        return cls(
            provider=_str_or_none(data.get("provider")),
            category=_str_or_none(data.get("category")),
            models=dict(models) if isinstance(models, dict) else {},
            raw=dict(data),
        )


@dataclass(frozen=True)
class StatusReason(JSONReady):
    """Why an account is not ``active``: StackOne's ``{code, description, timestamp}``."""

    #: A short reason, e.g. ``"invalid_credentials"``.
    code: str | None = None
    #: The reason for a person to read.
    description: str | None = None
    #: When StackOne recorded it, as StackOne wrote it.
    timestamp: str | None = None


@dataclass(frozen=True)
class Account(JSONReady):
    """A linked account. Only ``status == "active"`` means it can be used."""

    #: StackOne's account id.
    id: str
    #: The connector's key, e.g. ``"bamboohr"``.
    provider: str | None = None
    #: The connector's display name, e.g. ``"BambooHR"``.
    provider_name: str | None = None
    #: ``"active"``, ``"inactive"``, ``"error"``... (an open set: anything but ``"active"``
    #: needs attention).
    status: str | None = None
    #: Why the account is not ``active``, as StackOne explains it.
    status_reasons: tuple[StatusReason, ...] = ()
    #: Your :attr:`Owner.id`.
    origin_owner_id: str | None = None
    #: Your :attr:`Owner.name`.
    origin_owner_name: str | None = None
    #: Your :attr:`Owner.username`.
    origin_username: str | None = None
    #: The label the session gave the account, if any.
    label: str | None = None
    #: ``"production"`` or ``"test"``, as the session set it.
    type: str | None = None
    #: The connector's setup information, as StackOne holds it.
    setup_information: dict[str, Any] = field(default_factory=dict, repr=False)
    #: When the account was linked (UTC).
    created_at: datetime | None = None
    #: When StackOne last changed it (UTC).
    updated_at: datetime | None = None
    #: StackOne's answer as it came, unknown fields included.
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def is_active(self) -> bool:
        """``status == "active"``: the account can be used."""
        return self.status == "active"

    @classmethod
    def from_api(cls, data: dict[str, Any]) -> Account:
        """Build from one account of StackOne's answer (``GET /accounts/{id}`` ...)."""
        reasons = data.get("status_reasons")
        return cls(
            id=str(data["id"]),
            provider=_str_or_none(data.get("provider")),
            provider_name=_str_or_none(data.get("provider_name")),
            status=_str_or_none(data.get("status")),
            status_reasons=tuple(
                StatusReason(
                    code=_str_or_none(r.get("code")),
                    description=_str_or_none(r.get("description")),
                    timestamp=_str_or_none(r.get("timestamp")),
                )
                for r in (reasons if isinstance(reasons, list) else ())
                if isinstance(r, dict)
            ),
            origin_owner_id=_str_or_none(data.get("origin_owner_id")),
            origin_owner_name=_str_or_none(data.get("origin_owner_name")),
            origin_username=_str_or_none(data.get("origin_username")),
            label=_str_or_none(data.get("label")),
            type=_str_or_none(data.get("type")),
            setup_information=dict(data.get("setup_information") or {})
            if isinstance(data.get("setup_information"), dict)
            else {},
            created_at=parse_datetime(data.get("created_at")),
            updated_at=parse_datetime(data.get("updated_at")),
            raw=dict(data),
        )

    def summary(self) -> dict[str, Any]:
        """What the browser may see: id, provider, status and the reasons for it, and the
        account's ``label`` and ``type`` when it has them."""
        shown: dict[str, Any] = {
            "id": self.id,
            "provider": self.provider,
            "status": self.status,
            "status_reasons": [asdict(r) for r in self.status_reasons],
        }
        shown.update({k: v for k, v in (("label", self.label), ("type", self.type)) if v})
        return shown


@dataclass(frozen=True, kw_only=True)
class WebhookEvent(JSONReady):
    """A verified webhook event of any type (``hris_employees.updated``, ...).

    ``type`` is the body's ``event`` string, ``""`` when it has none (``raw`` holds the body).
    ``delivery_key`` is the sha256 of the raw body: equal bodies are one delivery.
    ``source`` is ``"webhook"``, ``"hub"`` for a success confirmed from the page, or
    ``"app"`` for a disconnection made through the app's disconnect route.
    """

    #: The event's name, e.g. ``"account.created"``.
    type: str
    #: The account it is about.
    account_id: str | None = None
    #: The connector's key, e.g. ``"bamboohr"``.
    provider: str | None = None
    #: Your StackOne project.
    project_id: str | None = None
    #: What kind of record changed (``"account"`` for account events).
    record_type: str | None = None
    #: The id of that record.
    record_id: str | None = None
    #: When it happened (UTC).
    event_date: datetime | None = None
    #: When StackOne sent it (UTC).
    sent_at: datetime | None = None
    #: ``"webhook"``, ``"hub"`` or ``"app"`` (see above).
    source: str = "webhook"
    #: The sha256 of the raw body.
    delivery_key: str | None = None
    #: The body as it came, unknown fields included.
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)


@dataclass(frozen=True, kw_only=True)
class AccountEvent(WebhookEvent):
    """``account.created``, ``account.updated`` or ``account.deleted``, with the owner.

    ``label`` and ``account_type`` (``production`` or ``test``) are the account's, when the
    event's source read the account (a confirm from the page); StackOne's webhook body
    carries neither.
    """

    #: Your :attr:`Owner.id` (StackOne's ``origin_owner_id``).
    owner_id: str | None = None
    #: Your :attr:`Owner.name` (``origin_owner_name``).
    owner_name: str | None = None
    #: Your :attr:`Owner.username` (``origin_username``).
    username: str | None = None
    label: str | None = None
    account_type: str | None = None


@dataclass(frozen=True)
class SessionCreated(JSONReady):
    """Audit record sent with ``connect_session_created``. It never holds the token."""

    session_id: str
    owner_id: str
    provider: str | None
    categories: tuple[str, ...]
    account_id: str | None
    expires_at: datetime | None


@dataclass(frozen=True)
class ConnectorMeta(JSONReady):
    """One connector of the project, from StackOne's ``GET /connectors/meta``: its display
    name, category and logos. ``logo_url`` is kept as StackOne sent it (check it before
    putting it in a page)."""

    provider: str
    provider_name: str | None = None
    category: str | None = None
    active: bool | None = None
    logo_url: str | None = None
    original_logo_horizontal_url: str | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_api(cls, data: dict[str, Any]) -> ConnectorMeta:
        resources = data.get("resources")
        images = resources.get("images") if isinstance(resources, dict) else None
        images = images if isinstance(images, dict) else {}
        active = data.get("active")
        return cls(
            provider=str(data["provider"]),
            provider_name=_str_or_none(data.get("provider_name")),
            category=_str_or_none(data.get("category")),
            active=active if isinstance(active, bool) else None,
            logo_url=_str_or_none(images.get("logo_url")),
            original_logo_horizontal_url=_str_or_none(images.get("original_logo_horizontal_url")),
            raw=dict(data),
        )
