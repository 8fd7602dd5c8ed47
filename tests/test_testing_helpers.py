"""flask_stackone.testing and the pytest plugin, as a host app's tests use them."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from flask import Flask

from flask_stackone import (
    AccountEvent,
    InvalidOptionError,
    Owner,
    SessionCreated,
    account_created,
    connect_session_created,
    get_client,
)
from flask_stackone.sandbox import get_sandbox, stop_deliveries, wait_for_deliveries
from flask_stackone.testing import link_account, make_event, post_event, record_events, sign

from .conftest import build_app
from .live_server import refused_port, serve

pytest_plugins = ["pytester"]


def test_make_event_has_stackones_shape():
    body = json.loads(make_event("account.created", account_id="acc_1", origin_owner_id="org_1"))
    documented = {"project_id", "event", "event_date", "record_type", "record_id", "sent_at"}
    assert documented | {"account_id", "provider"} <= set(body)
    assert body["event"] == "account.created" and body["record_id"] == "acc_1"
    assert body["origin_owner_id"] == "org_1"


def test_sign_accepts_text_and_bytes():
    assert sign("{}", "s") == sign(b"{}", "s")


def test_post_event_and_record_events_round_trip():
    app = build_app()
    with record_events(app) as events:
        response = post_event(app.test_client(), make_event("account.deleted", account_id="acc_5"))
    assert response.status_code == 200
    assert [(e.type, e.account_id) for e in events] == [("account.deleted", "acc_5")]


def test_post_event_with_the_wrong_secret_is_refused():
    app = build_app()
    assert (
        post_event(app.test_client(), make_event("account.created"), secret="nope").status_code
        == 401
    )


def test_pytest_plugin_fixtures_work_in_a_host_project(pytester):
    pytester.makeconftest(
        """
        import pytest
        from flask import Flask
        from flask_stackone import Owner, make_blueprint

        @pytest.fixture
        def app():
            app = Flask("host")
            app.config.update(STACKONE_API_KEY="k", STACKONE_WEBHOOK_SECRET="whsec_host")
            bp = make_blueprint()
            bp.owner_loader(lambda: Owner("org_1", "Acme"))
            app.register_blueprint(bp)
            return app
        """
    )
    pytester.makepyfile(
        """
        def test_handler_sees_the_event(stackone_webhook, stackone_events):
            response = stackone_webhook("account.created", account_id="acc_42")
            assert response.status_code == 200
            assert [e.account_id for e in stackone_events] == ["acc_42"]
        """
    )
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)


# -- link_account: an account linked in the sandbox, its webhooks delivered -----------------

OWNER = Owner("org_7", "Globex", "hank@globex.test")


@pytest.fixture
def sandbox_app(tmp_path: Path) -> Iterator[Flask]:
    """A host app with the sandbox on, served by nothing: Flask's test client only."""
    app = build_app(instance_path=str(tmp_path / "instance"), STACKONE_SANDBOX=True)
    yield app
    stop_deliveries(app)


def test_link_account_delivers_account_created_from_the_webhook(sandbox_app: Flask) -> None:
    sessions: list[SessionCreated] = []
    with (
        record_events(sandbox_app) as events,
        connect_session_created.connected_to(
            lambda sender, event, **extra: sessions.append(event), sandbox_app
        ),
    ):
        account = link_account(sandbox_app, OWNER, "bamboohr")
    [event] = events
    assert (event.type, event.source) == ("account.created", "webhook")
    assert (event.owner_id, event.owner_name, event.username) == (
        "org_7",
        "Globex",
        "hank@globex.test",
    )
    assert (event.account_id, event.provider) == (account.id, "bamboohr")
    assert (account.status, account.origin_owner_id) == ("active", "org_7")
    assert [s.owner_id for s in sessions] == ["org_7"]
    box = get_sandbox(sandbox_app)
    assert box is not None
    [delivery] = box.store.deliveries()
    assert (delivery["event"], delivery["state"]) == ("account.created", "delivered")
    assert delivery["attempts_log"][0]["status"] == 200


def test_link_account_with_status_error_uses_the_magic_credentials(sandbox_app: Flask) -> None:
    with record_events(sandbox_app) as events:
        account = link_account(sandbox_app, OWNER, "hibob", status="error", label="Head office")
    assert [(e.type, e.source) for e in events] == [("account.created", "webhook")]
    assert account.status == "error"
    assert [r.code for r in account.status_reasons] == ["provider_permissions"]
    assert account.label == "Head office"
    assert get_client(sandbox_app).get_account(account.id) == account  # what StackOne says


def test_another_status_is_set_after_the_link_as_the_provider_would(sandbox_app: Flask) -> None:
    with record_events(sandbox_app) as events:
        account = link_account(sandbox_app, OWNER, "lever", status="suspended")
    assert [(e.type, e.account_id) for e in events] == [
        ("account.created", account.id),
        ("account.updated", account.id),
    ]
    assert account.status == "suspended"


def test_linking_the_same_provider_again_reconnects_unless_multiple(sandbox_app: Flask) -> None:
    first = link_account(sandbox_app, OWNER, "deel")
    with record_events(sandbox_app) as events:
        again = link_account(sandbox_app, OWNER, "deel")
        other = link_account(sandbox_app, OWNER, "deel", multiple=True)
    assert again.id == first.id and other.id != first.id
    assert [e.type for e in events] == ["account.updated", "account.created"]


def test_a_refused_webhook_raises_and_stays_pending(sandbox_app: Flask) -> None:
    def fail(sender: Flask, event: AccountEvent, **extra: object) -> None:
        raise RuntimeError("the host's database is down")

    with (
        account_created.connected_to(fail, sandbox_app),
        pytest.raises(RuntimeError, match=r"answered 500 to the sandbox's account\.created"),
    ):
        link_account(sandbox_app, OWNER, "rippling")
    box = get_sandbox(sandbox_app)
    assert box is not None
    [delivery] = box.store.deliveries()
    assert delivery["state"] == "pending"  # retried later, as any refused delivery


def test_link_account_refuses_what_a_real_link_cannot_do(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError, match="STACKONE_SANDBOX"):
        link_account(build_app(), OWNER)
    app = build_app(
        instance_path=str(tmp_path),
        STACKONE_SANDBOX=True,
        STACKONE_PROVIDERS=["hibob"],
    )
    with pytest.raises(ValueError, match="no connector 'workday-cloud'"):
        link_account(app, OWNER, "workday-cloud")
    with pytest.raises(ValueError, match="status must be one of"):
        link_account(app, OWNER, "hibob", status="broken")
    with pytest.raises(InvalidOptionError, match="not offered"):
        link_account(app, OWNER, "bamboohr")


def sqla_host(instance: Path) -> tuple[Flask, Any]:
    """A host app with the sandbox on and the linked-accounts store on a SQLite file."""
    from flask_sqlalchemy import SQLAlchemy

    from flask_stackone.sqla import LinkedAccountMixin, LinkedAccounts

    app = build_app(
        instance_path=str(instance),
        STACKONE_SANDBOX=True,
        SQLALCHEMY_DATABASE_URI=f"sqlite:///{instance / 'host.db'}",
    )
    db = SQLAlchemy(app)

    class LinkedAccount(LinkedAccountMixin, db.Model):  # type: ignore[name-defined, misc]
        __tablename__ = "linked_accounts"

    with app.app_context():
        db.create_all()
    linked = LinkedAccounts(LinkedAccount, db)
    linked.init_app(app)
    return app, linked


#: The columns a link writes that do not depend on the account's id or the moment.
SAME = ("owner_id", "owner_name", "provider", "provider_name", "status", "status_reasons",
        "label")  # fmt: skip


def test_link_account_writes_the_row_a_real_link_writes(tmp_path: Path) -> None:
    app, linked = sqla_host(tmp_path / "instance")
    owner = Owner("org_1", "Acme Ltd", "ada@acme.test")  # build_app's signed-in owner
    try:
        with serve(app) as base:  # a real link: the Hub's calls over HTTP, a real delivery
            token = requests.post(
                f"{base}/stackone/connect-session",
                json={"provider": "hibob"},
                headers={"X-StackOne-Request": "1"},
                timeout=5,
            ).json()["token"]
            created = requests.post(
                f"{base}/stackone-sandbox/hub/accounts",
                json={
                    "integration_id": "sbx-hibob",
                    "credentials": {"service_user_id": "SERVICE-1", "service_user_token": "t"},
                },
                headers={"x-hub-session-token": token},
                timeout=5,
            )
            assert created.status_code in (200, 201), created.text
            assert wait_for_deliveries(app, timeout=10)
        real_id = created.json()["id"]
        stop_deliveries(app)
        made = link_account(app, owner, "hibob", multiple=True)  # no server, no browser
        with app.app_context():
            real, helped = linked.get(real_id), linked.get(made.id)
            assert real is not None and helped is not None
            assert {c: getattr(helped, c) for c in SAME} == {c: getattr(real, c) for c in SAME}
            assert helped.status == "active" and helped.owner_id == "org_1"
    finally:
        stop_deliveries(app)


def test_the_stackone_link_fixture_in_a_host_project(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(
        """
        import pytest
        from flask import Flask
        from flask_stackone import make_blueprint

        @pytest.fixture
        def app(tmp_path):
            app = Flask("host", instance_path=str(tmp_path))
            app.config.update(TESTING=True, STACKONE_SANDBOX=True)
            bp = make_blueprint()
            bp.owner_loader(lambda: None)
            app.register_blueprint(bp)
            yield app
            from flask_stackone.sandbox import stop_deliveries
            stop_deliveries(app)
        """
    )
    pytester.makepyfile(
        """
        from flask_stackone import Owner

        def test_linking_reaches_the_receivers(stackone_link, stackone_events):
            account = stackone_link(Owner("org_9", "Initech"), "greenhouse", status="error")
            assert account.status == "error"
            [event] = stackone_events
            assert (event.type, event.source, event.owner_id) == (
                "account.created", "webhook", "org_9"
            )
        """
    )
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)


def test_the_delivery_thread_leaves_the_helpers_deliveries_alone(tmp_path: Path) -> None:
    """Even where the sandbox knows a webhook URL (here one that refuses connections), the
    helper's delivery goes once, in process, and nowhere else."""
    with refused_port() as port:
        app = build_app(
            instance_path=str(tmp_path),
            STACKONE_SANDBOX=True,
            STACKONE_SANDBOX_WEBHOOK_URL=f"http://127.0.0.1:{port}/stackone/webhooks",
        )
        try:
            for _ in range(5):
                link_account(app, OWNER, "personio", multiple=True)
            box = get_sandbox(app)
            assert box is not None
            deliveries = box.store.deliveries()
            assert [d["state"] for d in deliveries] == ["delivered"] * 5
            assert [len(d["attempts_log"]) for d in deliveries] == [1] * 5
            assert {d["attempts_log"][0]["url"] for d in deliveries} == {"/stackone/webhooks"}
        finally:
            stop_deliveries(app)
