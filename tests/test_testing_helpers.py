"""flask_stackone.testing and the pytest plugin, as a host app's tests use them."""

from __future__ import annotations

import json

from flask_stackone.testing import make_event, post_event, record_events, sign

from .conftest import build_app

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
