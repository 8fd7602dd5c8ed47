"""Exceptions raised by flask-stackone.

Every exception of the package derives from :class:`FlaskStackOneError` and carries a
``code`` (a short machine-readable reason) and a ``message`` for the developer, plus the facts
of its failure (StackOne's status and request id, the store's address...). None carries
page copy: what a browser, a page or the command line is shown for each error is written in
one table, ``flask_stackone.error_answers``. None ever carries the API key or a webhook
secret in its text.
"""

from __future__ import annotations


class FlaskStackOneError(Exception):
    """The root of every exception flask-stackone raises.

    :param message: what went wrong, for the developer (never a secret).
    :param code: the reason, when it is not the class's own ``code``.
    :ivar code: a short machine-readable reason, e.g. ``not_configured``.
    """

    code = "error"

    def __init__(self, message: str = "", *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code


class ConfigurationError(FlaskStackOneError, RuntimeError):
    """A ``STACKONE_*`` setting is missing or invalid. The message names the setting."""

    code = "not_configured"


class NotRegisteredError(ConfigurationError):
    """No StackOne blueprint of that name is registered on the app."""


class StackOneError(FlaskStackOneError):
    """StackOne could not be reached, or answered with an error.

    :ivar status: the HTTP status StackOne answered, or ``None`` when no answer came.
    :ivar message: StackOne's own message, or a description of the transport failure.
    :ivar request_id: StackOne's request id when it sent one (quote it to their support).
    """

    code = "stackone_unavailable"

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        request_id: str | None = None,
        code: str | None = None,
    ) -> None:
        super().__init__(message, code=code)
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

    code = "stackone_auth_failed"


class NotFoundError(StackOneError):
    """StackOne answered 404: the account (or other record) does not exist."""

    code = "account_not_found"


class InvalidRequestError(StackOneError):
    """StackOne rejected what was sent (400, 409, 412, 422)."""


class RateLimitedError(StackOneError):
    """StackOne answered 429. ``retry_after`` is the wait it asked for, in seconds."""

    code = "stackone_rate_limited"

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs: object) -> None:
        super().__init__(message, **kwargs)  # type: ignore[arg-type]
        self.retry_after = retry_after


class ServerError(StackOneError):
    """StackOne answered 408 or 5xx."""


class StackOneTimeout(StackOneError):
    """No answer from StackOne within the configured timeout."""

    code = "stackone_timeout"


class StackOneConnectionError(StackOneError):
    """StackOne could not be reached at all (DNS, refused connection, TLS)."""


class InvalidResponseError(StackOneError):
    """StackOne answered 2xx with a body that is not the JSON expected (truncated, HTML...)."""


class WebhookError(FlaskStackOneError):
    """Base class of webhook failures."""

    code = "invalid_webhook"


class SignatureVerificationError(WebhookError):
    """The ``x-stackone-signature`` header is missing, malformed or matches no secret."""

    code = "invalid_signature"


class InvalidPayloadError(WebhookError):
    """The body was correctly signed but is not a JSON object."""

    code = "invalid_payload"


class StaleEventError(WebhookError):
    """A correctly signed delivery sent too long ago (``code`` ``stale_event``) or too far in
    the future (``event_from_future``): refused, so a captured body cannot be replayed once
    the delivery store has forgotten it."""

    code = "stale_event"


class InvalidOptionError(FlaskStackOneError, ValueError):
    """A linking option (provider, categories, account id, lifetime) is malformed or not
    offered by this app's allow-lists. ``code`` says which, e.g. ``provider_not_allowed``."""

    code = "invalid_option"


class RequestRefused(FlaskStackOneError):
    """A request to one of the plugin's routes that cannot be served as sent (a 400 unless a
    subclass says otherwise). ``code`` says why, e.g. ``invalid_json``."""

    code = "bad_request"


class MissingHeaderError(RequestRefused):
    """A browser request without the header only the plugin's own scripts send."""

    code = "missing_request_header"


class BodyTooLargeError(RequestRefused):
    """A request body larger than the route accepts."""

    code = "too_large"


class NotSignedInError(RequestRefused):
    """The owner loader returned ``None``: nobody is signed in."""

    code = "not_signed_in"


class ForeignAccountError(RequestRefused):
    """The account belongs to another owner."""

    code = "foreign_account"


class WrongOwnerError(RequestRefused):
    """``STACKONE_ONBOARDING_REQUIRE_OWNER`` is on and the link's owner is not signed in.

    :ivar signed_in: someone else is signed in (else nobody is).
    """

    code = "wrong_owner"

    def __init__(self, message: str, *, signed_in: bool, code: str | None = None) -> None:
        super().__init__(message, code=code)
        self.signed_in = signed_in


class CrossSiteError(RequestRefused):
    """A form post that the browser says comes from another site."""

    code = "cross_site"


class DeliveryInProgress(RequestRefused):
    """Another worker is handling the same webhook delivery right now."""

    code = "in_progress"


class StoreUnavailable(FlaskStackOneError):
    """The delivery store (Redis, a SQL database) cannot be reached right now.

    The webhook route answers 503 with ``Retry-After``, so StackOne delivers again later;
    nothing is acknowledged that did not run.

    :ivar address: where the store was expected, ``host:port`` (never a password).
    """

    code = "store_unavailable"

    def __init__(self, message: str, *, address: str = "", code: str | None = None) -> None:
        super().__init__(message, code=code)
        self.address = address


class ReceiverError(FlaskStackOneError):
    """A signal receiver of the host app raised; the event was not recorded."""

    code = "receiver_failed"


class LinkError(FlaskStackOneError):
    """An onboarding link that cannot be used: tampered, cut off or signed with another key."""

    code = "invalid_link"


class LinkExpired(LinkError):
    """The onboarding link is past its expiry."""

    code = "link_expired"


class LinkRevoked(LinkError):
    """``STACKONE_ONBOARDING_LINK_CHECK`` refused the link (withdrawn before its expiry)."""

    code = "link_revoked"


class HubInstallError(FlaskStackOneError, RuntimeError):
    """The Hub script could not be installed. The message says what to do."""

    code = "hub_install_failed"


class NpmNotFoundError(HubInstallError):
    """The ``npm`` command is not on ``PATH``."""


class HubIntegrityError(HubInstallError):
    """The downloaded script is not the pinned one (size or sha256 differ): refused."""
