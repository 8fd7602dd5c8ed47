"""Webhook delivery off the request thread, signed as StackOne signs, with retries.

Deliveries wait in the sandbox's SQLite file, so a restart resumes them. One daemon
thread per app sends them: it starts when there is work and ends when nothing is
pending (or no target URL is known yet), so idle apps keep no thread. A non-2xx answer
or a connection error is retried after ``backoff * 2 ** (attempt - 1)`` seconds (at most
:data:`MAX_WAIT`), until a 2xx answer, so nothing is lost; with a limit of ``attempts``
tries, the delivery is ``failed`` once they were made.

:meth:`Deliverer.deliver_due` sends deliveries at once on the caller's thread instead,
through any transport (a Flask test client): while :meth:`Deliverer.held`, the background
thread leaves them alone.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial

import requests

from ..core.webhooks import SIGNATURE_HEADER, compute_signature
from .store import SandboxStore

log = logging.getLogger("flask_stackone.sandbox")

#: The longest wait between two attempts, in seconds.
MAX_WAIT = 60.0
#: How long a claimed delivery is hidden from other workers while it is being sent (at
#: least twice the receiver timeout). A delivery in flight when its process died is sent
#: again once this has passed.
LEASE = 30.0
#: An idle worker with pending deliveries but no target URL stops after this many seconds.
IDLE_EXIT = 30.0
USER_AGENT = "StackOne-Webhooks (flask-stackone sandbox)"

#: Sends one delivery: ``post(url, body, headers)`` returns the receiver's status code and
#: answer text, or raises :class:`requests.RequestException` when nothing answered.
Post = Callable[[str, bytes, Mapping[str, str]], tuple[int, str]]


@dataclass(frozen=True)
class Attempt:
    """One attempt at sending a delivery, as recorded.

    :ivar status: the receiver's status code; ``None`` when nothing answered (``error``).
    """

    delivery_id: int
    event: str
    url: str
    status: int | None
    answer: str | None
    error: str | None

    @property
    def delivered(self) -> bool:
        """The receiver answered 2xx."""
        return self.status is not None and 200 <= self.status < 300


def post_over_http(
    session: requests.Session, timeout: float, url: str, body: bytes, headers: Mapping[str, str]
) -> tuple[int, str]:
    """:data:`Post` over real HTTP with ``session``."""
    response = session.post(url, data=body, headers=dict(headers), timeout=timeout)
    return response.status_code, response.text[:500]


class Deliverer:
    """Sends the pending deliveries of one sandbox.

    :param store: where deliveries wait.
    :param target: returns the URL to POST to, or ``None`` while none is known.
    :param secret: returns the signing secret.
    :param attempts: tries per delivery, the first included; ``None``: until a 2xx answer.
    :param backoff: seconds before the first retry; doubled for each next one.
    :param timeout: seconds to wait for the receiver's answer.
    """

    def __init__(
        self,
        store: SandboxStore,
        *,
        target: Callable[[], str | None],
        secret: Callable[[], str],
        attempts: int | None,
        backoff: float,
        timeout: float,
    ) -> None:
        self.store = store
        self.target = target
        self.secret = secret
        self.attempts = attempts
        self.backoff = backoff
        self.timeout = timeout
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None
        self._kicked = False
        self._stopped = False
        self._held = 0

    def kick(self) -> None:
        """There may be work: wake the worker, starting it when it is not running."""
        with self._cond:
            if self._stopped:
                return
            self._kicked = True
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="stackone-sandbox-webhooks", daemon=True
                )
                self._thread.start()
            self._cond.notify_all()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the worker (pending deliveries stay stored) and wait for it to end."""
        with self._cond:
            self._stopped = True
            thread = self._thread
            self._cond.notify_all()
        if thread is not None:
            thread.join(timeout)

    @contextmanager
    def held(self) -> Iterator[None]:
        """While inside, the background thread sends nothing, so the caller can send
        deliveries itself (:meth:`deliver_due`); afterwards it sends what is still due."""
        with self._cond:
            self._held += 1
        try:
            yield
        finally:
            with self._cond:
                self._held -= 1
            self.kick()

    def deliver_due(self, url: str, post: Post, *, account_id: str | None = None) -> list[Attempt]:
        """Send each due delivery (of ``account_id`` only, when given) once, now, on this
        thread, to ``url`` through ``post``; a failed one is scheduled again as usual.

        :returns: the attempts made, oldest delivery first.
        """
        attempts: list[Attempt] = []
        lease = max(LEASE, 2 * self.timeout)
        while True:
            sent = [a.delivery_id for a in attempts]
            row = self.store.claim_due(lease, account_id=account_id, skip=sent)
            if row is None:
                return attempts
            attempts.append(
                self._attempt(
                    post, url, row["id"], bytes(row["body"]), row["attempts"], row["event"]
                )
            )

    def wait(self, timeout: float) -> bool:
        """Wait until no delivery is pending; ``False`` if some still are after ``timeout``."""
        deadline = time.monotonic() + timeout
        while self.store.next_due() is not None:
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.02)
        return True

    def _run(self) -> None:
        session = requests.Session()
        session.trust_env = False  # the receiver is local: no proxy from the environment
        try:
            while self._step(session):
                pass
        finally:
            session.close()

    def _step(self, session: requests.Session) -> bool:
        """Send one due delivery or sleep until one may be due; ``False``: end the thread."""
        with self._cond:
            self._kicked = False
            if self._stopped:
                self._thread = None
                return False
            if self._held:
                self._cond.wait(IDLE_EXIT)  # the end of the hold kicks
                return True
            url = self.target()
            # Claimed under the lock: once held() returns, no new claim is made.
            row = self.store.claim_due(max(LEASE, 2 * self.timeout)) if url else None
        if row is not None and url:
            self._send(session, url, row["id"], bytes(row["body"]), row["attempts"], row["event"])
            return True
        due = self.store.next_due()
        with self._cond:
            if self._kicked or self._stopped:
                return True
            if due is None:
                self._thread = None  # nothing pending: a later kick starts a new worker
                return False
            wait = IDLE_EXIT if not url else min(max(due - time.time(), 0.01), IDLE_EXIT)
            self._cond.wait(wait)
            if not self._kicked and not url:
                self._thread = None  # still no target: wait for a request to teach one
                return False
        return True

    def _send(
        self,
        session: requests.Session,
        url: str,
        delivery_id: int,
        body: bytes,
        done: int,
        event: str,
    ) -> Attempt:
        """One attempt over HTTP with ``session``."""
        post = partial(post_over_http, session, self.timeout)
        return self._attempt(post, url, delivery_id, body, done, event)

    def _attempt(
        self, post: Post, url: str, delivery_id: int, body: bytes, done: int, event: str
    ) -> Attempt:
        """One attempt through ``post``, recorded, with the next one scheduled if needed."""
        headers = {
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            SIGNATURE_HEADER: compute_signature(body, self.secret()),
        }
        status: int | None = None
        answer: str | None = None
        error: str | None = None
        try:
            status, answer = post(url, body, headers)
        except requests.RequestException as exc:
            error = f"{type(exc).__name__}: could not reach {url}"
        attempt = Attempt(delivery_id, event, url, status, answer, error)
        tries = done + 1
        next_at = None
        if not attempt.delivered and (self.attempts is None or tries < self.attempts):
            next_at = time.time() + min(self.backoff * 2 ** min(tries - 1, 32), MAX_WAIT)
        self.store.record_attempt(
            delivery_id, url, status=status, answer=answer, error=error,
            next_at=next_at, delivered=attempt.delivered,
        )  # fmt: skip
        outcome = "delivered" if attempt.delivered else f"answer {status}" if status else error
        log.info("sandbox webhook %s #%s attempt %s: %s", event, delivery_id, tries, outcome)
        if not attempt.delivered and next_at is None:
            log.warning(
                "sandbox webhook %s #%s failed %s times; giving up", event, delivery_id, tries
            )
        return attempt
