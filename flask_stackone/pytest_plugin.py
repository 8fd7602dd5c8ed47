"""pytest fixtures for host apps, registered automatically when flask-stackone is installed.

They expect the host's own ``app`` fixture (as pytest-flask and Flask's docs use), and for
``stackone_hub`` a Playwright ``page`` fixture (pytest-playwright's, or the host's own).

- ``stackone_events``: a list filling with the events ``app`` sends during the test.
- ``stackone_webhook``: ``stackone_webhook("account.created", account_id="a1")`` posts a
  correctly signed event through ``app.test_client()`` and returns the response.
- ``stackone_link``: ``stackone_link(owner, "hibob", status="error", label="HQ")`` links an
  account in the app's sandbox and delivers its webhooks to the app
  (:func:`~flask_stackone.testing.link_account`); returns the account.
- ``stackone_hub``: a :class:`~flask_stackone.testing.HubDriver` on ``page``, whose shadow
  roots are open, to pick a connector, fill the Hub's form and wait for the link.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from .testing import HubDriver, link_account, make_event, post_event, record_events


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


@pytest.fixture
def stackone_link(app: Any) -> Callable[..., Any]:
    def link(owner: Any, provider: str = "bamboohr", **options: Any) -> Any:
        return link_account(app, owner, provider, **options)

    return link


@pytest.fixture
def stackone_hub(page: Any) -> HubDriver:
    return HubDriver(page)
