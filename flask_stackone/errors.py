"""Exceptions raised by flask-stackone.

Every failure a caller may want to handle has its own class. None of them ever
carries the API key or a webhook secret in its text.
"""

from __future__ import annotations


class ConfigurationError(RuntimeError):
    """A ``STACKONE_*`` setting is missing or invalid. The message names the setting."""


class StackOneError(Exception):
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


class WebhookError(Exception):
    """Base class of webhook failures."""


class SignatureVerificationError(WebhookError):
    """The ``x-stackone-signature`` header is missing, malformed or matches no secret."""


class InvalidPayloadError(WebhookError):
    """The body was correctly signed but is not a JSON object with an ``event`` string."""


class InvalidOptionError(ValueError):
    """A linking option (provider, categories, account id, lifetime) is malformed or not
    offered by this app's allow-lists.

    :ivar code: a short machine-readable reason, e.g. ``provider_not_allowed``.
    """

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
