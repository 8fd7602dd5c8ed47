"""The Redis delivery store: one Redis shared by every worker on every host.

Needs redis-py (``pip install 'flask-stackone[redis]'``), imported here only.

A claim is one ``SET key token NX PX lease``: atomic, so one worker wins, and the lease
lapses by itself when the claimant dies. Remember and release are Lua scripts (atomic on
the server) that check the claim's token first, so a worker whose lease ran out can never
release or overwrite the claim another worker took since. Done marks live ``ttl`` seconds.

Each command is sent on a connection checked out of the client's pool and given back at once
(the pool's limits hold, and a thread that ends keeps none), past the client's per-command
layer, which costs about as much CPU as the round trip to Redis itself.
"""

from __future__ import annotations

import hashlib
from typing import Any
from urllib.parse import urlsplit

import redis
from redis import exceptions as redis_errors

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
        (the app's own, for instance). A client built here waits at most ``timeout`` seconds
        for Redis, unless the URL says otherwise.
    :param prefix: put before each delivery key (one Redis database can serve several apps).
    :raises TypeError: a Redis Cluster client, or a client that caches answers (client-side
        caching): a claim must read what another host wrote a moment ago.
    :raises StoreUnavailable: from every method while Redis cannot be reached or refuses
        the store's commands (out of memory, no permission, a foreign value at a key).
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
        self._pool = pool
        self.prefix = prefix
        self.ttl = ttl
        self.lease = lease
        self.address = address_of(self.redis)
        self._ttl_ms = max(1, round(ttl * 1000))
        self._lease_ms = max(1, round(lease * 1000))
        self._tokens = ClaimTokens()

    def __repr__(self) -> str:
        return f"<RedisDeliveryStore {self.address}>"

    def _command(self, *args: Any, raw: bool = False) -> Any:
        """Send one command on a connection of the pool and read its answer (as bytes, not
        decoded, with ``raw``).

        A connection that fails meanwhile (Redis restarted, or a replica took over) is
        closed, so no late answer is ever read for another command, and the command is sent
        once more; a failure then, a timeout, or a pool with no connection to give, means
        Redis cannot be reached.
        """
        for attempt in (1, 2):
            connection = None
            try:
                connection = self._pool.get_connection()
                connection.send_command(*args)
                return connection.read_response(disable_decoding=raw)
            except UNREACHABLE as exc:
                if connection is not None:
                    connection.disconnect()
                dropped = isinstance(exc, redis_errors.ConnectionError)  # not a timeout
                if attempt == 1 and connection is not None and dropped:
                    continue
                raise StoreUnavailable(
                    f"Redis at {self.address} cannot be reached ({exc or type(exc).__name__})",
                    address=self.address,
                ) from exc
            except redis_errors.NoScriptError:
                raise
            except redis_errors.ResponseError as exc:  # out of memory, no permission, WRONGTYPE
                raise StoreUnavailable(
                    f"Redis at {self.address} refused the command ({exc})", address=self.address
                ) from exc
            finally:
                if connection is not None:
                    self._pool.release(connection)
        raise AssertionError("unreachable")  # pragma: no cover

    def _script(self, script: str, sha: str, key: str, *args: Any) -> Any:
        """Run a Lua script by its hash; send it whole when Redis does not know it (yet)."""
        try:
            return self._command("EVALSHA", sha, 1, self.prefix + key, *args)
        except redis_errors.NoScriptError:
            return self._command("EVAL", script, 1, self.prefix + key, *args)

    def check(self) -> None:
        """Ask Redis for an answer now. :raises StoreUnavailable: when none comes."""
        self._command("PING")

    def claim(self, key: str) -> ClaimResult:
        name = self.prefix + key
        token = self._tokens.new()
        while True:
            if self._command("SET", name, token, "NX", "PX", self._lease_ms) is not None:
                self._tokens.hold(key, token)
                return "claimed"
            value = self._command("GET", name, raw=True)
            if value is None:  # released or lapsed in between, so try again
                continue
            value = value.decode("utf-8", "replace")
            if value == token:  # set before a dropped connection lost the answer: ours
                self._tokens.hold(key, token)
                return "claimed"
            return "done" if value == DONE else "busy"

    def remember(self, key: str) -> None:
        token = self._tokens.take(key) or ""
        self._script(REMEMBER, _REMEMBER_SHA, key, token, self._ttl_ms)

    def release(self, key: str) -> None:
        token = self._tokens.take(key)
        if token is not None:
            self._script(RELEASE, _RELEASE_SHA, key, token)


def _sha1(script: str) -> str:
    return hashlib.sha1(script.encode(), usedforsecurity=False).hexdigest()


_REMEMBER_SHA = _sha1(REMEMBER)
_RELEASE_SHA = _sha1(RELEASE)
