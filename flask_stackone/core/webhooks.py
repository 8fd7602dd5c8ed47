"""StackOne webhooks: signing, building, verifying and parsing. Pure functions: no Flask here.

StackOne signs each delivery with ``x-stackone-signature`` =
base64url(HMAC-SHA256(secret as UTF-8, raw body)) without ``=`` padding. Verification
fails closed: no secret, no header, a malformed header or no matching secret all raise.
Only the canonical encoding of the digest is accepted: 43 characters, or 44 ending in one
``=``, whose last character leaves the two unused bits at zero (so one signature has
exactly one spelling, with or without its padding).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
import time
from collections.abc import Iterable
from typing import Any

from .errors import InvalidPayloadError, SignatureVerificationError, StaleEventError
from .models import ACCOUNT_EVENTS, AccountEvent, WebhookEvent, format_datetime, parse_datetime

SIGNATURE_HEADER = "x-stackone-signature"
_DIGEST_SIZE = hashlib.sha256().digest_size
#: 32 bytes in base64url: 43 characters, then at most the one ``=`` of padding.
_ENCODED_SIZE = 43
_BASE64URL = re.compile(rb"[A-Za-z0-9_-]{43}=?")


def compute_signature(body: bytes, secret: str) -> str:
    """The header value StackOne sends for ``body`` signed with ``secret`` (no padding)."""
    digest = hmac.new(secret.encode("utf-8"), body, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def build_event_body(
    event: str,
    *,
    account_id: str,
    provider: str,
    project_id: str,
    **fields: Any,
) -> bytes:
    """A webhook body as StackOne sends it: one flat JSON object, compact, as bytes.

    ``fields`` add or replace keys (``origin_owner_id=...``, ``sent_at=...``).
    """
    now = format_datetime()
    body: dict[str, Any] = {
        "project_id": project_id,
        "event": event,
        "event_date": now,
        "record_type": "account",
        "record_id": account_id,
        "sent_at": now,
        "account_id": account_id,
        "provider": provider,
    }
    body.update(fields)
    return json.dumps(body, separators=(",", ":")).encode("utf-8")


def _secrets_list(secrets: str | Iterable[str] | None) -> list[str]:
    if secrets is None:
        return []
    if isinstance(secrets, str):
        secrets = [secrets]
    return [s for s in secrets if isinstance(s, str) and s]


def _header_bytes(header: str | bytes | None) -> bytes:
    """The header's signature as ASCII bytes without its one optional ``=`` (a header of
    another form never matches: :func:`_refusal` says what is wrong with it)."""
    if isinstance(header, str):
        header = header.encode("ascii", "replace")
    header = (header or b"").strip()
    return header[:-1] if header.endswith(b"=") else header


def _refusal(header: str | bytes | None) -> SignatureVerificationError:
    """Why ``header`` verifies nothing: what is wrong with its form, else no match.

    A well-formed header is 43 base64url characters, then at most one ``=``; the two unused
    bits of the last character are zero (only the canonical spelling of a digest verifies).
    """
    if header is None:
        return SignatureVerificationError("missing x-stackone-signature header")
    if isinstance(header, str):
        try:
            header = header.encode("ascii")
        except UnicodeEncodeError:
            return SignatureVerificationError("signature header is not ASCII")
    header = header.strip()
    if len(header.rstrip(b"=")) != _ENCODED_SIZE or len(header) > _ENCODED_SIZE + 1:
        return SignatureVerificationError("signature header has the wrong length")
    if not _BASE64URL.fullmatch(header):
        return SignatureVerificationError("signature header is not base64url")
    unpadded = header[:_ENCODED_SIZE]
    try:
        digest = base64.urlsafe_b64decode(unpadded + b"=")
    except (binascii.Error, ValueError):
        return SignatureVerificationError("signature header is not base64url")
    if len(digest) != _DIGEST_SIZE or base64.urlsafe_b64encode(digest)[:_ENCODED_SIZE] != unpadded:
        return SignatureVerificationError("signature header is not canonical base64url")
    return SignatureVerificationError("signature does not match")


def verify_signature(
    body: bytes, header: str | bytes | None, secrets: str | Iterable[str] | None
) -> None:
    """Check ``header`` against ``body`` with every secret; return ``None`` or raise.

    :raises SignatureVerificationError: no secret configured, header missing or
        malformed, or no secret produces this signature.
    """
    keys = _secrets_list(secrets)
    if not keys:
        raise SignatureVerificationError("no webhook secret configured")
    if not isinstance(body, (bytes, bytearray)):
        raise TypeError("verify_signature needs the raw body as bytes")
    given = _header_bytes(header)
    if len(given) != _ENCODED_SIZE:  # missing or malformed: refused before any hashing
        raise _refusal(header)
    matched = False
    for secret in keys:  # try all of them: the time taken does not tell which one matched
        # hmac.new with hashlib's constructor: in a server worker, hmac.digest's one-shot
        # call costs about 19 µs of CPU against 8 µs (benchmarks/RESULTS.md)
        digest = hmac.new(secret.encode("utf-8"), body, hashlib.sha256).digest()
        expected = base64.urlsafe_b64encode(digest)[:_ENCODED_SIZE]  # the one canonical form
        matched |= hmac.compare_digest(expected, given)
    if not matched:
        raise _refusal(header)


def delivery_key(body: bytes) -> str:
    """Identity of one delivery: sha256 of the raw body, hex."""
    return hashlib.sha256(body).hexdigest()


def _text(value: Any) -> str | None:
    if value is None or isinstance(value, (dict, list, bool)):
        return None
    return str(value)


def parse_event(body: bytes, *, source: str = "webhook") -> WebhookEvent:
    """Parse a (verified) body into an :class:`AccountEvent` or a :class:`WebhookEvent`.

    Any JSON object is an event: StackOne adds kinds whose shapes no source shows, and a
    signed delivery refused here would be refused on every retry. A body without an
    ``event`` string gives a :class:`WebhookEvent` whose ``type`` is ``""`` (read ``raw``).

    :returns: an :class:`AccountEvent` for the account kinds, else a :class:`WebhookEvent`.
    :raises InvalidPayloadError: not UTF-8 JSON, or not a JSON object.
    """
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):
        raise InvalidPayloadError("body is not valid JSON") from None
    if not isinstance(data, dict):
        raise InvalidPayloadError("body is not a JSON object")
    event_type = data.get("event")
    if not isinstance(event_type, str):
        event_type = ""
    common: dict[str, Any] = {
        "type": event_type,
        "account_id": _text(data.get("account_id")),
        "provider": _text(data.get("provider")),
        "project_id": _text(data.get("project_id")),
        "record_type": _text(data.get("record_type")),
        "record_id": _text(data.get("record_id")),
        "event_date": parse_datetime(data.get("event_date")),
        "sent_at": parse_datetime(data.get("sent_at")),
        "source": source,
        "delivery_key": delivery_key(body),
        "raw": data,
    }
    if event_type in ACCOUNT_EVENTS:
        return AccountEvent(
            **common,
            owner_id=_text(data.get("origin_owner_id")),
            owner_name=_text(data.get("origin_owner_name")),
            username=_text(data.get("origin_username")),
        )
    return WebhookEvent(**common)


#: How far ahead of this server's clock an event may be dated (StackOne's clock may run fast).
MAX_CLOCK_SKEW = 300


def check_event_time(event: WebhookEvent, max_age: int | None, now: float | None = None) -> None:
    """Refuse a delivery sent more than ``max_age`` seconds ago, or more than
    :data:`MAX_CLOCK_SKEW` seconds ahead: by its ``sent_at``, else its ``event_date``.

    A body with neither (StackOne always sends ``sent_at``) is accepted: only a holder of the
    secret can have made it, so it is no captured delivery of StackOne's.

    :raises StaleEventError: too old (``stale_event``) or from the future (``event_from_future``).
    """
    moment = event.sent_at or event.event_date
    if max_age is None or moment is None:
        return
    age = (time.time() if now is None else now) - moment.timestamp()
    if age > max_age:
        raise StaleEventError(
            f"the event was sent {int(age)} seconds ago, more than the {max_age} accepted",
            code="stale_event",
        )
    if age < -MAX_CLOCK_SKEW:
        raise StaleEventError(
            f"the event is dated {int(-age)} seconds in the future", code="event_from_future"
        )


def construct_event(
    body: bytes,
    header: str | bytes | None,
    secrets: str | Iterable[str] | None,
    *,
    max_age: int | None = None,
) -> WebhookEvent:
    """Verify, then parse: for hosts that receive webhooks in a view of their own.

    :param max_age: refuse a delivery sent longer ago than this many seconds (see
        :func:`check_event_time`); ``None`` checks no age.
    :returns: the event, as :func:`parse_event` gives it.
    :raises SignatureVerificationError: as :func:`verify_signature`.
    :raises InvalidPayloadError: as :func:`parse_event`.
    :raises StaleEventError: with ``max_age``: sent longer ago, or dated in the future.
    """
    verify_signature(body, header, secrets)
    event = parse_event(body)
    check_event_time(event, max_age)
    return event
