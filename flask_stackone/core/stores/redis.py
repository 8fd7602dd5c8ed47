"""The Redis delivery store: one Redis shared by every worker on every host.

Needs redis-py (``pip install 'flask-stackone[redis]'``), imported here only.

A claim is one ``SET key token NX PX lease``: atomic, so one worker wins, and the lease
lapses by itself when the claimant dies. Remember and release are Lua scripts registered with
the client (atomic on the server, sent again when Redis forgot them) that check the claim's
token first, so a worker whose lease ran out can never release or overwrite the claim another
worker took since. Done marks live ``ttl`` seconds.

Every command goes through the client's own API, its connection pool and its retry policy,
as the client was configured; a client built here from a URL replaces a dropped connection
once. A done mark or a release that finds no free connection in a bounded pool is tried again
for a moment before it gives up: a busy pool is never a reason to forget a handled delivery.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import redis
from redis import exceptions as redis_errors
from redis.backoff import ExponentialBackoff, NoBackoff
from redis.client import NEVER_DECODE
from redis.retry import Retry

from ..errors import StoreUnavailable
from .base import DAY, ClaimResult, ClaimTokens

#: The value of a done mark; a claim's value is its token.
DONE = "done"

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

#: How a done mark or a release waits out a moment with no connection to give: about a
#: second and a half in all, well inside any lease.
FINISH_RETRY = Retry(ExponentialBackoff(cap=0.25, base=0.01), retries=8)


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

    :param redis_or_url: a ``redis://`` / ``rediss://`` URL (its query may set the pool, e.g.
        ``?max_connections=20``), or a ``redis.Redis`` client (the app's own, for instance),
        used as it was configured. A client built here waits at most ``timeout`` seconds for
        Redis, unless the URL says otherwise.
    :param prefix: put before each delivery key (one Redis database can serve several apps).
    :raises TypeError: a Redis Cluster client, or a client that caches answers (client-side
        caching): a claim must read what another host wrote a moment ago.
    :raises StoreUnavailable: from every method while Redis cannot be reached or refuses
        the store's commands (out of memory, read-only, no permission, a foreign value at a key).
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
                redis_or_url,
                socket_timeout=timeout,
                socket_connect_timeout=timeout,
                retry=Retry(NoBackoff(), 1),  # a connection dropped meanwhile: once more
                retry_on_error=[redis_errors.ConnectionError],
            )
        pool = getattr(redis_or_url, "connection_pool", None)
        if pool is None:
            raise TypeError(
                "RedisDeliveryStore needs a redis.Redis client or a redis:// URL "
                "(Redis Cluster clients are not supported)"
            )
        if getattr(pool, "cache", None) is not None:
            raise TypeError(
                "RedisDeliveryStore needs a client without client-side caching: a claim "
                "must read what another host wrote a moment ago"
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

    def _unavailable(self, exc: redis_errors.RedisError) -> StoreUnavailable:
        """What the route answers 503 for: Redis out of reach, or refusing the command."""
        if isinstance(exc, (redis_errors.ConnectionError, redis_errors.TimeoutError)):
            what = "cannot be reached"
        else:  # out of memory, READONLY, no permission, WRONGTYPE
            what = "refused the command"
        reason = str(exc) or type(exc).__name__
        return StoreUnavailable(f"Redis at {self.address} {what} ({reason})", address=self.address)

    def check(self) -> None:
        """Ask Redis for an answer now. :raises StoreUnavailable: when none comes."""
        try:
            self.redis.ping()
        except redis_errors.RedisError as exc:
            raise self._unavailable(exc) from exc

    def claim(self, key: str) -> ClaimResult:
        name = self.prefix + key
        token = self._tokens.new()
        try:
            while True:
                if self.redis.set(name, token, nx=True, px=self._lease_ms):
                    self._tokens.hold(key, token)
                    return "claimed"
                value = self.redis.execute_command("GET", name, **{NEVER_DECODE: True})
                if value is None:  # released or lapsed in between, so try again
                    continue
                value = value.decode("utf-8", "replace")
                if value == token:  # set before a dropped connection lost the answer: ours
                    self._tokens.hold(key, token)
                    return "claimed"
                return "done" if value == DONE else "busy"
        except redis_errors.RedisError as exc:
            raise self._unavailable(exc) from exc

    def remember(self, key: str) -> None:
        token = self._tokens.take(key) or ""
        self._finish(self._remember, key, token, self._ttl_ms)

    def release(self, key: str) -> None:
        token = self._tokens.take(key)
        if token is not None:
            self._finish(self._release, key, token)

    def _finish(self, script: Any, key: str, *args: Any) -> None:
        """Run a remember or release script, waiting a moment for a connection when the pool
        has none to give (or one was dropped) before giving up."""
        try:
            FINISH_RETRY.call_with_retry(
                lambda: script(keys=[self.prefix + key], args=list(args)), lambda error: None
            )
        except redis_errors.RedisError as exc:
            raise self._unavailable(exc) from exc
