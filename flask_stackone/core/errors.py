"""Exceptions raised by flask-stackone.

Every exception of the package derives from :class:`FlaskStackOneError`, and every failure a
caller may want to handle has its own class. None of them ever carries the API key or a
webhook secret in its text.
"""

from __future__ import annotations


class FlaskStackOneError(Exception):
    """The root of every exception flask-stackone raises."""


class ConfigurationError(FlaskStackOneError, RuntimeError):
    """A ``STACKONE_*`` setting is missing or invalid. The message names the setting."""


class NotRegisteredError(ConfigurationError):
    """No StackOne blueprint of that name is registered on the app."""


class StackOneError(FlaskStackOneError):
    """StackOne could not be reached, or answered with an error.

    :ivar status: the HTTP status StackOne answered, or ``None`` when no answer came.
    :ivar message: StackOne's own message, or a description of the transport failure.
    :ivar request_id: StackOne's request id when it sent one (quote it to their support).
    """

    def __init__(
        self, message: str, *, status: int | None = None, request_id: str | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.request_id = request_id

    def __str__(self) -> str:
        parts = [self.message]
        if self.status is not None:
            parts.append(f"(HTTP {self.status})")
        if self.request_id:
            parts.append(f"[request id {self.request_id}]")
        return " ".join(parts)


class AuthenticationError(StackOneError):
    """StackOne refused the API key (401 or 403): the key is wrong, revoked or lacks scope."""


class NotFoundError(StackOneError):
    """StackOne answered 404: the account (or other record) does not exist."""


class InvalidRequestError(StackOneError):
    """StackOne rejected what was sent (400, 409, 412, 422)."""


class RateLimitedError(StackOneError):
    """StackOne answered 429. ``retry_after`` is the wait it asked for, in seconds."""

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs: object) -> None:
        super().__init__(message, **kwargs)  # type: ignore[arg-type]
        self.retry_after = retry_after


class ServerError(StackOneError):
    """StackOne answered 408 or 5xx."""


class StackOneTimeout(StackOneError):
    """No answer from StackOne within the configured timeout."""


class StackOneConnectionError(StackOneError):
    """StackOne could not be reached at all (DNS, refused connection, TLS)."""


class InvalidResponseError(StackOneError):
    """StackOne answered 2xx with a body that is not the JSON expected (truncated, HTML...)."""


class WebhookError(FlaskStackOneError):
    """Base class of webhook failures."""


class SignatureVerificationError(WebhookError):
    """The ``x-stackone-signature`` header is missing, malformed or matches no secret."""


class InvalidPayloadError(WebhookError):
    """The body was correctly signed but is not a JSON object with an ``event`` string."""


class StaleEventError(WebhookError):
    """A correctly signed delivery sent too long ago (``code`` ``stale_event``) or too far in
    the future (``event_from_future``): refused, so a captured body cannot be replayed once
    the delivery store has forgotten it.

    :ivar code: ``stale_event`` or ``event_from_future``.
    """

    def __init__(self, message: str, *, code: str = "stale_event") -> None:
        super().__init__(message)
        self.code = code


class InvalidOptionError(FlaskStackOneError, ValueError):
    """A linking option (provider, categories, account id, lifetime) is malformed or not
    offered by this app's allow-lists.

    :ivar code: a short machine-readable reason, e.g. ``provider_not_allowed``.
    """

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


class RequestRefused(FlaskStackOneError):
    """A request to one of the plugin's routes that cannot be served as sent.

    :ivar status: the HTTP status to answer (4xx).
    :ivar code: a short machine-readable reason, e.g. ``not_signed_in``.
    """

    status = 400
    code = "bad_request"

    def __init__(self, message: str, *, code: str | None = None, status: int | None = None):
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        if status is not None:
            self.status = status


class NotSignedInError(RequestRefused):
    """The owner loader returned ``None``: nobody is signed in."""

    status = 401
    code = "not_signed_in"


class ForeignAccountError(RequestRefused):
    """The account belongs to another owner."""

    status = 403
    code = "foreign_account"


class DeliveryInProgress(RequestRefused):
    """Another worker is handling the same webhook delivery right now."""

    status = 409
    code = "in_progress"


class StoreUnavailable(FlaskStackOneError):
    """The delivery store (Redis, a SQL database) cannot be reached right now.

    The webhook route answers 503 with ``Retry-After``, so StackOne delivers again later;
    nothing is acknowledged that did not run.

    :ivar address: where the store was expected, ``host:port`` (never a password).
    """

    def __init__(self, message: str, *, address: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.address = address


class ReceiverError(FlaskStackOneError):
    """A signal receiver of the host app raised; the event was not recorded."""


class LinkError(FlaskStackOneError):
    """An onboarding link that cannot be used; ``status`` is the HTTP answer."""

    status = 400
    code = "invalid_link"
    title = "This link is not valid"
    message = "The link may have been cut off or changed. Ask for a new one."


class LinkExpired(LinkError):
    """The onboarding link is past its expiry."""

    status = 410
    code = "link_expired"
    title = "This link has expired"
    message = "Links to connect an account work for a limited time. Ask for a new one."


class LinkRevoked(LinkError):
    """``STACKONE_ONBOARDING_LINK_CHECK`` refused the link (withdrawn before its expiry)."""

    status = 410
    code = "link_revoked"
    title = "This link was withdrawn"
    message = "Whoever sent it has withdrawn it. Ask them for a new one."


class HubInstallError(FlaskStackOneError, RuntimeError):
    """The Hub script could not be installed. The message says what to do."""


class NpmNotFoundError(HubInstallError):
    """The ``npm`` command is not on ``PATH``."""


class HubIntegrityError(HubInstallError):
    """The downloaded script is not the pinned one (size or sha256 differ): refused."""
