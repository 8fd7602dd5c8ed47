"""``StackOneClient``: the server-side calls to StackOne's API, on one pooled session.

Authentication is HTTP Basic with the API key as user name and an empty password.
Every call has a timeout. GETs are retried on 408, 429, 502, 503 and 504 (honouring
``Retry-After``) within a bounded count and total wait; the session POST is retried
only when StackOne certainly did not process it (429, or no connection made).
"""

from __future__ import annotations

import ipaddress
import logging
import time
from collections.abc import Iterable, Iterator, Mapping
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import quote, urlsplit

import requests

from ..__about__ import __version__
from . import errors
from .models import Account, AccountMeta, AuthenticatedSession, ConnectorMeta, ConnectSession

log = logging.getLogger("flask_stackone.client")

DEFAULT_API_URL = "https://api.stackone.com"
USER_AGENT = f"flask-stackone/{__version__} python-requests/{requests.__version__}"
RETRY_GET_STATUSES = frozenset({408, 429, 502, 503, 504})


def is_loopback(host: str) -> bool:
    """True for ``localhost`` and the loopback addresses (``127.0.0.1``, ``::1``, bracketed
    or not): the names of this machine that a ``Host`` header or a listening address use."""
    host = host.strip("[]").lower()
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def is_local_url(url: str) -> bool:
    """True for a URL on this machine: its host is :func:`is_loopback` or a ``*.localhost``
    name (which resolves to this machine only)."""
    try:
        host = (urlsplit(url).hostname or "").lower()
    except ValueError:  # an unclosed IPv6 bracket
        return False
    return is_loopback(host) or host.endswith(".localhost")


def check_api_url(url: str, setting: str = "STACKONE_API_URL") -> str:
    """Return ``url`` without a trailing slash, or raise if the key must not go there.

    :param setting: the name to blame in the error (a second instance has its own prefix).
    """
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise errors.ConfigurationError(f"{setting} must be an http(s) URL, got {url!r}")
    if parts.scheme == "http" and not is_local_url(url):
        raise errors.ConfigurationError(
            f"{setting} {url!r} is plain http: the API key is only sent over https "
            "(or to localhost)"
        )
    return url.rstrip("/")


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a ``Retry-After`` header (delta seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, (when - datetime.now(timezone.utc)).total_seconds())


class StackOneClient:
    """A client for the StackOne endpoints account linking needs.

    Every call raises a :class:`~flask_stackone.StackOneError` when StackOne fails, after the
    retries a GET gets; the subclass says how (all are in :mod:`flask_stackone.errors`):
    ``AuthenticationError`` (401, 403: the key), ``NotFoundError`` (404),
    ``RateLimitedError`` (429), ``InvalidRequestError`` (another 4xx), ``ServerError`` (408,
    5xx), ``StackOneTimeout``, ``StackOneConnectionError`` (no connection), and
    ``InvalidResponseError`` (a 2xx answer that is not the JSON expected). Each carries
    StackOne's ``status`` and ``request_id``.

    :param api_key: the project's API key (Basic auth user name).
    :param base_url: StackOne's API root; plain http only for localhost.
    :param timeout: seconds to wait for a connection and for each answer.
    :param max_retries: how many times a GET may be retried.
    :param max_retry_wait: the most seconds all retries of one call may wait in total.
    :param session: a ``requests.Session`` to use (one is created and pooled otherwise).
    :raises ConfigurationError: no API key, or a ``base_url`` the key must not be sent to.
    """

    def __init__(
        self,
        api_key: str,
        base_url: str = DEFAULT_API_URL,
        *,
        timeout: float = 10.0,
        max_retries: int = 2,
        max_retry_wait: float = 10.0,
        session: requests.Session | None = None,
    ) -> None:
        if not isinstance(api_key, str) or not api_key.strip():
            raise errors.ConfigurationError("STACKONE_API_KEY is not set")
        self.base_url = check_api_url(base_url)
        self._api_key = api_key
        self.timeout = timeout
        self.max_retries = max_retries
        self.max_retry_wait = max_retry_wait
        self.session = session or requests.Session()
        self.session.headers["User-Agent"] = USER_AGENT

    def __repr__(self) -> str:
        return f"<StackOneClient {self.base_url} api_key=***>"

    def close(self) -> None:
        """Close the pooled connections."""
        self.session.close()

    # -- the calls ---------------------------------------------------------------------------

    def create_connect_session(
        self,
        *,
        origin_owner_id: str,
        origin_owner_name: str,
        origin_username: str | None = None,
        provider: str | None = None,
        categories: Iterable[str] | None = None,
        account_id: str | None = None,
        expires_in: int | None = None,
        metadata: Mapping[str, Any] | None = None,
        multiple: bool | None = None,
        label: str | None = None,
        type: str | None = None,
        connector_profile_id: str | None = None,
        integration_id: str | None = None,
    ) -> ConnectSession:
        """``POST /connect_sessions``. Fields left as ``None`` are not sent. Retried only when
        StackOne certainly did not process it (429, or no connection made).

        :param connector_profile_id: the connector profile to use; ``integration_id`` is its
            older name, taken too and sent as ``connector_profile_id``.
        :returns: the session; ``expires_at`` is counted from when it was asked for.
        :raises ValueError: both names given, with different values.
        :raises InvalidRequestError: StackOne refused a field (an unknown provider ...).
        :raises StackOneError: StackOne failed otherwise (a subclass, see above).
        """
        if integration_id is not None:
            if connector_profile_id not in (None, integration_id):
                raise ValueError("connector_profile_id and integration_id name one field")
            connector_profile_id = integration_id
        body: dict[str, Any] = {
            "origin_owner_id": origin_owner_id,
            "origin_owner_name": origin_owner_name,
        }
        optional = {
            "origin_username": origin_username,
            "provider": provider,
            "categories": list(categories) if categories is not None else None,
            "account_id": account_id,
            "expires_in": expires_in,
            "metadata": dict(metadata) if metadata is not None else None,
            "multiple": multiple,
            "label": label,
            "type": type,
            "connector_profile_id": connector_profile_id,
        }
        body.update({k: v for k, v in optional.items() if v is not None})
        requested_at = datetime.now(timezone.utc)
        data = self._json("POST", "/connect_sessions", json=body)
        if not isinstance(data, dict) or not data.get("token") or data.get("id") is None:
            raise errors.InvalidResponseError(
                "StackOne's connect session answer has no token or id"
            )
        return ConnectSession.from_api(
            data,
            expires_in=expires_in if expires_in is not None else 1800,
            requested_at=requested_at,
        )

    def authenticate_connect_session(self, token: str) -> AuthenticatedSession:
        """``POST /connect_sessions/authenticate``: what StackOne knows of a session token.

        :returns: the session, without its token or auth link.
        :raises InvalidRequestError: the token is unknown or expired (StackOne answers 400).
        :raises StackOneError: StackOne failed otherwise (a subclass, see above).
        """
        data = self._json("POST", "/connect_sessions/authenticate", json={"token": token})
        if not isinstance(data, dict) or data.get("id") is None:
            raise errors.InvalidResponseError("StackOne's authenticate answer has no id")
        return AuthenticatedSession.from_api(data)

    def get_account(self, account_id: str) -> Account:
        """``GET /accounts/{id}``.

        :raises NotFoundError: no account with this id.
        :raises StackOneError: StackOne failed otherwise (a subclass, see above).
        :raises ValueError: an empty id, ``.`` or ``..``.
        """
        return self._account(self._json("GET", f"/accounts/{_segment(account_id)}"))

    def get_account_meta(self, account_id: str) -> AccountMeta:
        """``GET /accounts/{id}/meta``: the account's connector, category and data models.

        :returns: the account's :class:`~flask_stackone.core.models.AccountMeta`.
        :raises ValueError: ``account_id`` is not an account id.
        :raises NotFoundError: no such account.
        :raises StackOneError: StackOne failed otherwise (after the GET's retries).
        """
        data = self._json("GET", f"/accounts/{_segment(account_id)}/meta")
        if not isinstance(data, dict):
            raise errors.InvalidResponseError("StackOne's account meta answer is not an object")
        return AccountMeta.from_api(data)

    def delete_account(self, account_id: str) -> Account:
        """``DELETE /accounts/{id}``.

        :returns: the deleted account.
        :raises NotFoundError: no account with this id.
        :raises StackOneError: StackOne failed otherwise (a subclass, see above).
        :raises ValueError: an empty id, ``.`` or ``..``.
        """
        return self._account(self._json("DELETE", f"/accounts/{_segment(account_id)}"))

    def update_account(self, account_id: str, **fields: Any) -> Account:
        """``PATCH /accounts/{id}`` with the given fields (``label``, ``secrets`` ...).

        :returns: the account as it is now.
        :raises NotFoundError: no account with this id.
        :raises InvalidRequestError: StackOne refused a field.
        :raises StackOneError: StackOne failed otherwise (a subclass, see above).
        :raises ValueError: an empty id, ``.`` or ``..``.
        """
        return self._account(self._json("PATCH", f"/accounts/{_segment(account_id)}", json=fields))

    def iter_accounts(
        self,
        *,
        owner_id: str | None = None,
        owner_ids: Iterable[str] | None = None,
        account_ids: Iterable[str] | None = None,
        providers: Iterable[str] | None = None,
        status: Iterable[str] | None = None,
        page_size: int = 25,
    ) -> Iterator[Account]:
        """Every matching account: ``GET /accounts`` page after page, until a page shorter
        than ``page_size`` (StackOne gives no total). The pages are read as the iteration
        goes; :meth:`list_accounts` reads them all at once.

        :param owner_id: only this owner's accounts (``origin_owner_id``, your ``Owner.id``);
            ``owner_ids`` several (StackOne's ``origin_owner_ids``).
        :param account_ids: only these accounts.
        :param providers: only these connectors (``"bamboohr"`` ...).
        :param status: only accounts with one of these statuses.
        :param page_size: accounts per request.
        :returns: an iterator of :class:`~flask_stackone.Account`.
        :raises StackOneError: StackOne failed (a subclass, see above), when a page is read.
        """
        params: dict[str, Any] = {"page_size": page_size}
        if owner_id is not None:
            params["origin_owner_id"] = owner_id
        if owner_ids:
            params["origin_owner_ids"] = list(owner_ids)
        if account_ids:
            params["account_ids"] = list(account_ids)
        if providers:
            params["providers"] = list(providers)
        if status:
            params["status"] = list(status)
        page = 1
        while True:
            data = self._json("GET", "/accounts", params={**params, "page": page})
            items = data.get("data") if isinstance(data, dict) else data
            if not isinstance(items, list):
                raise errors.InvalidResponseError("StackOne's account list is not a list")
            for item in items:
                yield self._account(item)
            if len(items) < page_size:
                return
            page += 1

    def list_accounts(self, **filters: Any) -> list[Account]:
        """Every matching account across all pages, as a list: ``list_accounts(owner_id="org_42")``
        is the owner's accounts. Takes :meth:`iter_accounts`'s filters.

        :raises StackOneError: StackOne failed (a subclass, see above).
        """
        return list(self.iter_accounts(**filters))

    def list_connectors_meta(self) -> list[ConnectorMeta]:
        """``GET /connectors/meta``: every connector of the project, with its display name,
        category and logos. Entries without a ``provider`` are skipped.

        :raises StackOneError: StackOne failed (a subclass, see above).
        """
        # The logos (``resources``) come only when asked for.
        data = self._json("GET", "/connectors/meta", params={"include": "resources"})
        items = data.get("data") if isinstance(data, dict) else data
        if not isinstance(items, list):
            raise errors.InvalidResponseError("StackOne's connectors meta answer is not a list")
        return [
            ConnectorMeta.from_api(item)
            for item in items
            if isinstance(item, dict) and isinstance(item.get("provider"), str) and item["provider"]
        ]

    # -- transport ----------------------------------------------------------------------------

    @staticmethod
    def _account(data: Any) -> Account:
        if not isinstance(data, dict) or data.get("id") is None:
            raise errors.InvalidResponseError("StackOne's account answer has no id")
        return Account.from_api(data)

    def _json(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self._send(method, path, **kwargs)
        try:
            return response.json()
        except ValueError:
            raise errors.InvalidResponseError(
                f"StackOne answered {method} {path} with a body that is not JSON",
                status=response.status_code,
                request_id=_request_id(response),
            ) from None

    def _send(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        url = self.base_url + path
        idempotent = method == "GET"
        deadline = time.monotonic() + self.max_retry_wait
        attempt = 0
        while True:
            attempt += 1
            try:
                response = self.session.request(
                    method, url, auth=(self._api_key, ""), timeout=self.timeout, **kwargs
                )
            except requests.exceptions.ConnectTimeout:
                failure: errors.StackOneError = errors.StackOneTimeout(
                    f"No connection to StackOne within {self.timeout}s ({method} {path})"
                )
                retryable, wait = True, 0.0
            except requests.exceptions.Timeout:
                failure = errors.StackOneTimeout(
                    f"StackOne did not answer within {self.timeout}s ({method} {path})"
                )
                retryable, wait = idempotent, 0.0
            except requests.exceptions.ConnectionError as exc:
                failure = errors.StackOneConnectionError(
                    f"StackOne could not be reached ({method} {path}): {type(exc).__name__}"
                )
                retryable, wait = idempotent, 0.0
            except requests.exceptions.RequestException as exc:
                raise errors.StackOneConnectionError(
                    f"Request to StackOne failed ({method} {path}): {type(exc).__name__}"
                ) from None
            else:
                if response.status_code < 400:
                    return response
                failure = self._error_from(response, method, path)
                retryable = response.status_code == 429 or (
                    idempotent and response.status_code in RETRY_GET_STATUSES
                )
                wait = parse_retry_after(response.headers.get("Retry-After")) or 0.0
            backoff = max(wait, 0.2 * 2 ** (attempt - 1))
            if not retryable or attempt > self.max_retries or time.monotonic() + backoff > deadline:
                log.warning("StackOne %s %s failed: %s", method, path, failure)
                raise failure from None
            log.info("StackOne %s %s: %s; retrying in %.1fs", method, path, failure, backoff)
            time.sleep(backoff)

    def _error_from(
        self, response: requests.Response, method: str, path: str
    ) -> errors.StackOneError:
        status = response.status_code
        message = ""
        try:
            body = response.json()
        except ValueError:
            body = None
        if isinstance(body, dict) and isinstance(body.get("message"), str):
            message = body["message"]
        # Mask first, then cut: a key straddling the cut would otherwise leave its start.
        message = self._redact(message)[:500] or f"StackOne answered {status} to {method} {path}"
        kwargs: dict[str, Any] = {"status": status, "request_id": _request_id(response)}
        if status in (401, 403):
            return errors.AuthenticationError(message, **kwargs)
        if status == 404:
            return errors.NotFoundError(message, **kwargs)
        if status == 429:
            return errors.RateLimitedError(
                message,
                retry_after=parse_retry_after(response.headers.get("Retry-After")),
                **kwargs,
            )
        if status == 408 or status >= 500:
            return errors.ServerError(message, **kwargs)
        return errors.InvalidRequestError(message, **kwargs)

    def _redact(self, text: str) -> str:
        return text.replace(self._api_key, "***") if self._api_key else text


def _segment(value: str) -> str:
    """One URL path segment: refuses ids that would change the path."""
    if not isinstance(value, str) or not value or value in (".", ".."):
        raise ValueError(f"invalid StackOne id: {value!r}")
    return quote(value, safe="")


def _request_id(response: requests.Response) -> str | None:
    for name in ("x-request-id", "request-id", "x-amzn-requestid"):
        if response.headers.get(name):
            return response.headers[name][:200]
    return None
