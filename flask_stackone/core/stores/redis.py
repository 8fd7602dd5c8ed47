"""The Redis delivery store: one Redis shared by every worker on every host.

Needs redis-py (``pip install 'flask-stackone[redis]'``), imported here only.

A claim is one ``SET key token NX PX lease``: atomic, so one worker wins, and the lease
lapses by itself when the claimant dies. Remember and release are Lua scripts (atomic on
the server) that check the claim's token first, so a worker whose lease ran out can never
release or overwrite the claim another worker took since. Done marks live ``ttl`` seconds.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import urlsplit

import redis
from redis import exceptions as redis_errors

from ..errors import StoreUnavailable
from .base import DAY, ClaimResult, ClaimTokens

T = TypeVar("T")

#: The value of a done mark; a claim's value is its token.
DONE = b"done"

#: KEYS[1] = the delivery; ARGV = token, ttl in ms. Done over this worker's claim, over no
#: claim (the lease lapsed and nobody took it) or over a done mark; never over another
#: worker's live claim: that worker remembers or releases for itself.
REMEMBER = """
local value = redis.call('GET', KEYS[1])
if value == false or value == ARGV[1] or value == 'done' then
  redis.call('SET', KEYS[1], 'done', 'PX', ARGV[2])
  return 1
end
return 0
"""

#: KEYS[1] = the delivery; ARGV[1] = token. Deletes the claim only if it is still this one.
RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""

#: Failures that mean "Redis cannot be reached right now" (a replica promoted meanwhile
#: answers READONLY for a moment): answered 503, retried by StackOne.
UNREACHABLE = (
    redis_errors.ConnectionError,
    redis_errors.TimeoutError,
    redis_errors.ReadOnlyError,
)


def address_of(client: Any) -> str:
    """``host:port`` (or the socket path) of a redis-py client, never its password."""
    try:
        kwargs = client.connection_pool.connection_kwargs
    except AttributeError:
        return "Redis"
    if kwargs.get("path"):
        return str(kwargs["path"])
    return f"{kwargs.get('host', 'localhost')}:{kwargs.get('port', 6379)}"


class RedisDeliveryStore:
    """A store in Redis, shared by every worker process on every host.

    :param redis_or_url: a ``redis://`` / ``rediss://`` URL, or a ``redis.Redis`` client
        (the app's own, for instance). A client built here waits at most ``timeout``
        seconds for Redis, unless the URL says otherwise.
    :param prefix: put before each delivery key (one Redis database can serve several apps).
    :raises StoreUnavailable: from every method while Redis cannot be reached.
    """

    def __init__(
        self,
        redis_or_url: Any,
        *,
        prefix: str = "stackone:delivery:",
        ttl: float = 7 * DAY,
        lease: float = 60.0,
        timeout: float = 5.0,
    ) -> None:
        if isinstance(redis_or_url, str):
            if urlsplit(redis_or_url).scheme not in ("redis", "rediss", "unix"):
                raise ValueError("a Redis URL starts with redis://, rediss:// or unix://")
            redis_or_url = redis.Redis.from_url(
                redis_or_url, socket_timeout=timeout, socket_connect_timeout=timeout
            )
        self.redis = redis_or_url
        self.prefix = prefix
        self.ttl = ttl
        self.lease = lease
        self.address = address_of(self.redis)
        self._ttl_ms = max(1, round(ttl * 1000))
        self._lease_ms = max(1, round(lease * 1000))
        self._remember = self.redis.register_script(REMEMBER)
        self._release = self.redis.register_script(RELEASE)
        self._tokens = ClaimTokens()

    def __repr__(self) -> str:
        return f"<RedisDeliveryStore {self.address}>"

    def _call(self, operation: Callable[[], T]) -> T:
        try:
            return operation()
        except UNREACHABLE as exc:
            raise StoreUnavailable(
                f"Redis at {self.address} cannot be reached ({exc or type(exc).__name__})",
                address=self.address,
            ) from exc

    def check(self) -> None:
        """Ask Redis for an answer now. :raises StoreUnavailable: when none comes."""
        self._call(self.redis.ping)

    def claim(self, key: str) -> ClaimResult:
        name = self.prefix + key
        token = self._tokens.new()
        while True:
            if self._call(lambda: self.redis.set(name, token, nx=True, px=self._lease_ms)):
                self._tokens.hold(key, token)
                return "claimed"
            value = self._call(lambda: self.redis.get(name))
            if value is not None:  # None: released or lapsed in between, so try again
                return "done" if value == DONE or value == "done" else "busy"

    def remember(self, key: str) -> None:
        token = self._tokens.take(key) or ""
        self._call(lambda: self._remember(keys=[self.prefix + key], args=[token, self._ttl_ms]))

    def release(self, key: str) -> None:
        token = self._tokens.take(key)
        if token is not None:
            self._call(lambda: self._release(keys=[self.prefix + key], args=[token]))
