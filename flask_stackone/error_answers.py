"""The one table from a flask-stackone error to what each audience is told.

For every error class: the HTTP status, the JSON ``{"error": code, "message": text}`` of the
API routes (the code is the error's own ``code``), the page shown by the HTML endpoints (title
and hint), the line logged, and the text the ``flask stackone`` commands print. The routes,
the accounts panel and the CLI all read it through :func:`answer_for`. The page's texts (and
the messages shown as a page's text) are marked for the package's catalogue; the routes show
them in the request's language. Browsers are never
shown StackOne's own text, the API key or a webhook secret; the log line and the CLI text (for
the developer) may name StackOne's message.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .core import errors
from .i18n import N_

log = logging.getLogger("flask_stackone")

#: Seconds a webhook sender is asked to wait while the delivery store cannot be reached.
STORE_RETRY_AFTER = 5

#: A text of the table: written out, or made from the error.
Text = str | Callable[[Any], str]

#: The page of a StackOne failure: the customer can only press Connect again.
STACKONE_TITLE = N_("The connection service did not answer")
STACKONE_HINT = N_("Please press Connect again shortly.")


@dataclass(frozen=True)
class Row:
    """One error class's answers.

    :ivar status: the HTTP status (or made from the error).
    :ivar message: the JSON message; ``None``: the error's own message (written for callers).
    :ivar title: the page's title for the HTML endpoints.
    :ivar hint: the page's text; ``None``: the JSON message.
    :ivar report: the log line and the CLI text; ``{exc}`` is the error.
    :ivar level: the logging level of ``report`` (``None``: the route logs nothing).
    :ivar headers: extra response headers, made from the error.
    """

    status: int | Callable[[Any], int]
    message: Text | None = None
    title: str = N_("This request was refused")
    hint: Text | None = None
    report: str = "{exc}"
    level: int | None = None
    headers: Callable[[Any], dict[str, str]] | None = None


@dataclass(frozen=True)
class ErrorAnswer:
    """What one error answers (see :class:`Row`)."""

    status: int
    code: str
    message: str
    title: str
    hint: str
    report: str
    level: int | None
    headers: Mapping[str, str] = field(default_factory=dict)

    def log(self) -> None:
        """Log :attr:`report` at :attr:`level` (nothing when the level is ``None``)."""
        if self.level is not None:
            log.log(self.level, "%s", self.report)


def _reference(exc: errors.StackOneError) -> str:
    return f" (StackOne request id {exc.request_id})" if exc.request_id else ""


def _stackone(message: str, status: int = 502, **kwargs: Any) -> Row:
    """A StackOne failure: its text reaches the log and the CLI, never the browser."""
    return Row(
        status,
        message=lambda exc: message + _reference(exc),
        title=STACKONE_TITLE,
        hint=STACKONE_HINT,
        report="StackOne call failed: {exc}",
        level=logging.WARNING,
        **kwargs,
    )


def _retry_after(seconds: float | None) -> dict[str, str]:
    return {"Retry-After": str(max(1, round(seconds or 1)))}


#: Each error class and its answers; an error takes the row of its nearest class.
TABLE: dict[type[errors.FlaskStackOneError], Row] = {
    errors.ConfigurationError: Row(
        503,
        title=N_("Linking is not available"),
        hint=N_("Please try again later."),
        report="flask-stackone is not configured: {exc}",
        level=logging.ERROR,
    ),
    errors.StackOneError: _stackone("StackOne could not complete the request"),
    errors.AuthenticationError: _stackone("StackOne refused this app's API key"),
    errors.StackOneTimeout: _stackone("StackOne did not answer in time", 504),
    errors.RateLimitedError: _stackone(
        "StackOne is rate limiting; try again shortly",
        503,
        headers=lambda exc: _retry_after(exc.retry_after),
    ),
    errors.NotFoundError: Row(
        404,
        message="no such account",
        title=N_("This account was not found"),
        hint=N_("Ask for a new link to connect an account."),
        report="StackOne has no such record: {exc}",
        level=logging.WARNING,
    ),
    errors.WebhookError: Row(400),
    errors.SignatureVerificationError: Row(401, message="signature verification failed"),
    errors.InvalidOptionError: Row(
        400,
        title=N_("This connector is no longer offered"),
        hint=N_("Ask for a new link to connect an account."),
    ),
    errors.RequestRefused: Row(400),
    errors.MissingHeaderError: Row(403),
    errors.BodyTooLargeError: Row(413),
    errors.NotSignedInError: Row(401),
    errors.ForeignAccountError: Row(403),
    errors.DeliveryInProgress: Row(409),
    errors.WrongOwnerError: Row(
        lambda exc: 403 if exc.signed_in else 401,
        message=lambda exc: (
            N_("This link was sent to another organisation. Sign in with that account.")
            if exc.signed_in
            else N_("Sign in to your account, then open this link again.")
        ),
        title=N_("You cannot use this link here"),
    ),
    errors.CrossSiteError: Row(
        403,
        message="this form was posted from another site",
        title=N_("Please use the button on this site"),
        hint=N_("Open the link from your email again."),
        level=logging.WARNING,
        report="cross-site POST refused: {exc}",
    ),
    errors.StoreUnavailable: Row(
        503,
        message="the delivery store cannot be reached; retry later",
        report="the webhook delivery store cannot be reached, answering 503: {exc}",
        level=logging.ERROR,
        headers=lambda exc: {"Retry-After": str(STORE_RETRY_AFTER)},
    ),
    errors.ReceiverError: Row(500),
    errors.LinkError: Row(
        400,
        message=N_("This link is not valid"),
        title=N_("This link is not valid"),
        hint=N_("The link may have been cut off or changed. Ask for a new one."),
    ),
    errors.LinkExpired: Row(
        410,
        message=N_("This link has expired"),
        title=N_("This link has expired"),
        hint=N_("Links to connect an account work for a limited time. Ask for a new one."),
    ),
    errors.LinkRevoked: Row(
        410,
        message=N_("This link was withdrawn"),
        title=N_("This link was withdrawn"),
        hint=N_("Whoever sent it has withdrawn it. Ask them for a new one."),
    ),
}


def _text(text: Text, exc: errors.FlaskStackOneError) -> str:
    return text if isinstance(text, str) else text(exc)


def answer_for(exc: errors.FlaskStackOneError) -> ErrorAnswer | None:
    """The answers to ``exc`` from the row of its nearest class in :data:`TABLE`.

    :returns: ``None`` for an error no route raises (a failed Hub install...): let it through.
    """
    row = next((TABLE[cls] for cls in type(exc).__mro__ if cls in TABLE), None)
    if row is None:
        return None
    message = str(exc) if row.message is None else _text(row.message, exc)
    return ErrorAnswer(
        status=row.status if isinstance(row.status, int) else row.status(exc),
        code=exc.code,
        message=message,
        title=row.title,
        hint=message if row.hint is None else _text(row.hint, exc),
        report=row.report.format(exc=exc),
        level=row.level,
        headers=row.headers(exc) if row.headers else {},
    )
