"""POST /stackone/webhooks: verified events become signals, exactly once."""

from __future__ import annotations

import json
import logging
import threading

import pytest
import requests
from flask import Flask

from flask_stackone import account_created, account_deleted, account_updated, webhook_received
from flask_stackone.testing import make_event, post_event, record_events, sign

from .conftest import WEBHOOK_SECRET, build_app
from .live_server import serve

URL = "/stackone/webhooks"


def post(client, body: bytes, signature: str | None = "auto", **headers):
    if signature == "auto":
        signature = sign(body, WEBHOOK_SECRET)
    if signature is not None:
        headers["X-StackOne-Signature"] = signature
    return client.post(URL, data=body, headers=headers)


@pytest.mark.parametrize(
    ("event_type", "signal"),
    [("account.created", account_created), ("account.updated", account_updated),
     ("account.deleted", account_deleted)],
)  # fmt: skip
def test_each_account_event_fires_its_signal_and_webhook_received(app, client, event_type, signal):
    typed, every = [], []
    with (
        signal.connected_to(lambda sender, event: typed.append((sender, event)), app),
        webhook_received.connected_to(lambda sender, event: every.append(event), app),
    ):
        response = post(client, make_event(event_type, account_id="acc_7", origin_owner_id="org_1"))
    assert response.status_code == 200 and response.get_json() == {"ok": True}
    ((sender, event),) = typed
    assert sender is app
    assert (event.type, event.account_id, event.owner_id, event.source) == (
        event_type, "acc_7", "org_1", "webhook")  # fmt: skip
    assert every == [event]


def test_the_documented_vector_is_accepted_by_the_route():
    client = build_app(STACKONE_WEBHOOK_SECRET="whsec_test_secret").test_client()
    body = b'{"event":"account.created","account_id":"acc_1"}'
    assert post(client, body, "o1ephrdEs_SuSeQokaBMlI0nm8iYRRBR5CrmxW7roUM").status_code == 200


def test_unknown_event_types_are_acknowledged_and_passed_on(app, client):
    with record_events(app) as events:
        response = post(client, make_event("hris_employees.updated", record_type="employee"))
    assert response.status_code == 200
    assert [e.type for e in events] == ["hris_employees.updated"]


@pytest.mark.parametrize(
    "signature",
    [None, "", "garbage", sign(b"other body", WEBHOOK_SECRET), sign(b"x", "wrong"), "é" * 43,
     "A" * 5000],
)  # fmt: skip
def test_bad_or_missing_signature_is_401_with_no_detail_and_no_signal(app, client, signature):
    with record_events(app) as events:
        response = post(client, make_event("account.created"), signature)
    assert response.status_code == 401
    assert response.get_json() == {
        "error": "invalid_signature",
        "message": "signature verification failed",
    }
    assert events == []


def test_non_latin1_header_bytes_are_401_not_500(app, client):
    body = make_event("account.created")
    environ = {"HTTP_X_STACKONE_SIGNATURE": "\xe9\xff" * 20}
    response = client.post(URL, data=body, environ_base=environ)
    assert response.status_code == 401


def test_tampered_body_is_refused(app, client):
    body = make_event("account.created", account_id="acc_1")
    signature = sign(body, WEBHOOK_SECRET)
    with record_events(app) as events:
        response = post(client, body.replace(b"acc_1", b"acc_2"), signature)
    assert response.status_code == 401 and events == []


def test_rotation_accepts_old_and_new_secret():
    app = build_app(STACKONE_WEBHOOK_SECRET=["whsec_old", "whsec_new"])
    client = app.test_client()
    for secret in ("whsec_old", "whsec_new"):
        body = make_event("account.created", account_id=f"acc_{secret}")
        assert post(client, body, sign(body, secret)).status_code == 200


@pytest.mark.parametrize("body", [b"{not json", b"[]", b"\xff\xfe"])
def test_signed_but_invalid_payload_is_400(app, client, body):
    response = post(client, body)
    assert response.status_code == 400
    assert response.get_json()["error"] == "invalid_payload"


@pytest.mark.parametrize("body", [b'{"kind": "something.new"}', b'{"account_id": "a"}'])
def test_signed_object_of_an_unknown_shape_is_acknowledged(app, client, body):
    """A signed JSON object StackOne sends is never refused (a refusal would repeat on every
    retry): it reaches ``webhook_received``, and no typed signal."""
    received, typed = [], []
    with (
        webhook_received.connected_to(lambda sender, event: received.append(event), app),
        account_created.connected_to(lambda sender, event: typed.append(event), app),
        account_updated.connected_to(lambda sender, event: typed.append(event), app),
        account_deleted.connected_to(lambda sender, event: typed.append(event), app),
    ):
        response = post(client, body)
    assert response.status_code == 200 and response.get_json()["ok"] is True
    assert [(event.type, event.raw) for event in received] == [("", json.loads(body))]
    assert typed == []


def test_unsigned_object_of_an_unknown_shape_is_401(app, client):
    received = []
    with webhook_received.connected_to(lambda sender, event: received.append(event), app):
        response = post(client, b'{"kind": "something.new"}', signature=None)
    assert response.status_code == 401 and received == []


def test_no_secret_configured_is_503_even_in_debug_and_testing():
    app = build_app(STACKONE_WEBHOOK_SECRET=None, DEBUG=True, TESTING=True)
    with record_events(app) as events:
        response = post(app.test_client(), make_event("account.created"), signature=None)
    assert response.status_code == 503
    assert "STACKONE_WEBHOOK_SECRET" in response.get_json()["message"]
    assert events == []


def test_oversized_body_is_413_json_from_content_length():
    app = build_app(STACKONE_WEBHOOK_MAX_BYTES=100)
    body = make_event("account.created", padding="x" * 200)
    response = post(app.test_client(), body)
    assert response.status_code == 413
    assert response.get_json()["error"] == "too_large"


def test_oversized_chunked_body_is_413_over_real_http_not_truncated():
    app = build_app(STACKONE_WEBHOOK_MAX_BYTES=100)
    body = make_event("account.created", padding="x" * 200)
    signature = sign(body[:100], WEBHOOK_SECRET)  # what a silently truncated read would accept

    def chunks():
        yield body[:60]
        yield body[60:]

    with record_events(app) as events, serve(app) as base:
        response = requests.post(
            base + URL, data=chunks(), headers={"X-StackOne-Signature": signature}, timeout=5
        )
        assert response.request.headers["Transfer-Encoding"] == "chunked"
        small = make_event("account.created")[:100]
        signed = {"X-StackOne-Signature": sign(small, WEBHOOK_SECRET)}
        ok = requests.post(base + URL, data=iter([small]), headers=signed, timeout=5)
    assert response.status_code == 413 and response.json()["error"] == "too_large"
    assert ok.status_code == 400  # within the limit, correctly signed, truncated JSON
    assert events == []


def test_app_max_content_length_smaller_than_limit_is_413_json():
    app = build_app(MAX_CONTENT_LENGTH=50)
    response = post(app.test_client(), make_event("account.created"))
    assert response.status_code == 413 and response.get_json()["error"] == "too_large"


def test_get_is_405_json(client):
    assert client.get(URL).get_json()["error"] == "method_not_allowed"


def test_a_failing_receiver_answers_500_and_the_redelivery_is_handled(app, client, caplog):
    calls = []

    def flaky(sender, event):
        calls.append(event.account_id)
        if len(calls) == 1:
            raise RuntimeError("database is down")

    body = make_event("account.created", account_id="acc_flaky")
    with account_created.connected_to(flaky, app):
        first = post(client, body)
        second = post(client, body)
        third = post(client, body)
    assert first.status_code == 500 and first.get_json()["error"] == "receiver_failed"
    assert "database is down" not in first.get_data(as_text=True)
    assert second.get_json() == {"ok": True}
    assert third.get_json() == {"ok": True, "duplicate": True}
    assert calls == ["acc_flaky", "acc_flaky"]
    failure = [
        r
        for r in caplog.records
        if r.levelno == logging.ERROR and "receiver failed" in r.getMessage()
    ]
    assert (
        failure
        and "account.created" in failure[0].getMessage()
        and "acc_flaky" in failure[0].getMessage()
    )


def test_duplicate_delivery_fires_once(app, client):
    body = make_event("account.created", account_id="acc_dup")
    with record_events(app) as events:
        assert post(client, body).get_json() == {"ok": True}
        assert post(client, body).get_json() == {"ok": True, "duplicate": True}
    assert len(events) == 1


def test_concurrent_duplicates_fire_once_and_all_succeed(app):
    body = make_event("account.created", account_id="acc_race")
    started = threading.Event()
    runs = []

    def slow(sender, event):
        runs.append(event)
        started.set()
        threading.Event().wait(0.2)

    results = []

    def deliver():
        results.append(post(app.test_client(), body).status_code)

    with account_created.connected_to(slow, app):
        threads = [threading.Thread(target=deliver) for _ in range(5)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(10)
    assert results == [200] * 5
    assert len(runs) == 1


def test_async_receivers_run(app, client):
    seen = []

    async def on_created(sender, event):
        seen.append(event.account_id)

    with account_created.connected_to(on_created, app):
        assert (
            post(client, make_event("account.created", account_id="acc_async")).status_code == 200
        )
    assert seen == ["acc_async"]


def test_receivers_connected_with_weak_false_in_a_factory_survive_gc():
    import gc

    def create_app() -> Flask:
        app = build_app()
        store = app.extensions.setdefault("linked", [])

        @account_created.connect_via(app, weak=False)
        def remember(sender, event, **extra):
            store.append(event.account_id)

        return app

    app = create_app()
    gc.collect()
    post_event(app.test_client(), make_event("account.created", account_id="acc_gc"))
    assert app.extensions["linked"] == ["acc_gc"]


def test_signals_from_one_app_do_not_reach_another_apps_receivers():
    app_a, app_b = build_app(), build_app()
    with record_events(app_a) as a_events, record_events(app_b) as b_events:
        post_event(app_b.test_client(), make_event("account.created"))
    assert a_events == [] and len(b_events) == 1


def test_sqlite_delivery_store_from_config(tmp_path):
    app = build_app(STACKONE_DELIVERY_STORE=str(tmp_path / "deliveries.db"))
    body = make_event("account.created", account_id="acc_sql")
    with record_events(app) as events:
        assert post_event(app.test_client(), body).get_json() == {"ok": True}
        assert post_event(app.test_client(), body).get_json()["duplicate"] is True
    assert len(events) == 1
    assert (tmp_path / "deliveries.db").exists()


# -- replays: how old a signed body may be ---------------------------------------------------


def _ago(seconds: float) -> str:
    from datetime import datetime, timedelta, timezone

    from flask_stackone.core.models import format_datetime

    return format_datetime(datetime.now(timezone.utc) - timedelta(seconds=seconds))


def test_a_body_sent_in_2020_is_refused_without_a_signal(app, client, caplog):
    """A captured body was accepted again whenever the store had forgotten it."""
    body = make_event("account.created", account_id="acc_old", sent_at="2020-01-01T00:00:00.000Z")
    with record_events(app) as events:
        response = post(client, body)
    assert response.status_code == 400
    assert response.get_json()["error"] == "stale_event"
    assert events == []
    assert any("stale" in r.getMessage() for r in caplog.records)


def test_a_replay_after_a_restart_with_the_memory_store_is_refused():
    """The in-memory store forgets on restart: a new app (same config) is a restarted one."""
    old = 4 * 86400
    body = make_event("account.deleted", account_id="acc_gone", sent_at=_ago(old))
    for _restart in range(2):
        app = build_app()
        with record_events(app) as events:
            response = post(app.test_client(), body)
        assert response.status_code == 400 and events == []


def test_the_limit_is_the_setting_and_sent_at_wins_over_event_date():
    app = build_app(STACKONE_WEBHOOK_MAX_AGE=600)
    client = app.test_client()
    fresh = make_event("account.updated", account_id="a1", sent_at=_ago(60), event_date=_ago(9000))
    stale = make_event("account.updated", account_id="a2", sent_at=_ago(700), event_date=_ago(1))
    assert post(client, fresh).status_code == 200
    assert post(client, stale).status_code == 400


def test_event_date_is_used_when_sent_at_is_missing():
    import json as json_module

    app = build_app(STACKONE_WEBHOOK_MAX_AGE=600)
    data = json_module.loads(make_event("account.created", account_id="a3", event_date=_ago(700)))
    del data["sent_at"]
    body = json_module.dumps(data).encode()
    response = post(app.test_client(), body)
    assert response.status_code == 400 and response.get_json()["error"] == "stale_event"


def test_an_event_from_the_future_is_refused(app, client):
    body = make_event("account.created", account_id="acc_f", sent_at=_ago(-3600))
    with record_events(app) as events:
        response = post(client, body)
    assert response.status_code == 400
    assert response.get_json()["error"] == "event_from_future"
    assert events == []
    assert post(client, make_event("account.created", sent_at=_ago(-60))).status_code == 200


def test_the_default_limit_is_shorter_than_the_stores_memory():
    from flask_stackone import get_state

    app = build_app()
    state = get_state(app)
    assert state.settings.webhook_max_age == 3 * 86400
    assert state.settings.webhook_max_age < state.delivery_store.ttl
    body = make_event("account.created", account_id="acc_e", sent_at=_ago(3 * 86400 - 60))
    assert post(app.test_client(), body).status_code == 200


def test_a_limit_longer_than_the_stores_memory_is_refused_at_registration():
    from flask_stackone import ConfigurationError

    with pytest.raises(ConfigurationError, match="STACKONE_WEBHOOK_MAX_AGE"):
        build_app(STACKONE_WEBHOOK_MAX_AGE=8 * 86400)


def test_no_limit_when_set_to_none():
    app = build_app(STACKONE_WEBHOOK_MAX_AGE=None)
    body = make_event("account.created", sent_at="2020-01-01T00:00:00.000Z")
    assert post(app.test_client(), body).status_code == 200
