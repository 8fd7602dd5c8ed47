"""pytest fixtures for host apps, registered automatically when flask-stackone is installed.

They expect the host's own ``app`` fixture (as pytest-flask and Flask's docs use).

- ``stackone_events``: a list filling with the events ``app`` sends during the test.
- ``stackone_webhook``: ``stackone_webhook("account.created", account_id="a1")`` posts a
  correctly signed event through ``app.test_client()`` and returns the response.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from .testing import make_event, post_event, record_events


@pytest.fixture
def stackone_events(app: Any) -> Iterator[list[Any]]:
    with record_events(app) as events:
        yield events


@pytest.fixture
def stackone_webhook(app: Any) -> Callable[..., Any]:
    client = app.test_client()

    def send(event: str, *, secret: str | None = None, **fields: Any) -> Any:
        return post_event(client, make_event(event, **fields), secret=secret)

    return send
