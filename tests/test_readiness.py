"""Quiet until it matters: registering says nothing, a served app that cannot work says so
once, and ``flask stackone check`` lists every problem (exit 1) for deploy pipelines."""

from __future__ import annotations

import logging

import click
import pytest
from flask import Flask

from flask_stackone import make_blueprint
from flask_stackone.cli import stackone

from .conftest import API_KEY, DEFAULT_OWNER, WEBHOOK_SECRET

CDN = "https://cdn.example.com/webcomponent.js"


def create_app(owner_loader: bool = True, **config: object) -> Flask:
    """A host's factory; StackOne's settings come from ``config`` only."""
    app = Flask("host_app")
    app.config.update({"SECRET_KEY": "k", **config})

    @app.cli.command("db-upgrade")
    def db_upgrade() -> None:  # a command that does not serve, like Flask-Migrate's
        click.echo("upgraded")

    bp = make_blueprint()
    if owner_loader:
        bp.owner_loader(lambda: DEFAULT_OWNER)
    app.register_blueprint(bp)
    return app


def stackone_warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.name.startswith("flask_stackone") and r.levelno >= logging.WARNING
    ]


def test_building_an_unconfigured_app_for_a_test_logs_nothing(caplog):
    caplog.set_level(logging.DEBUG, "flask_stackone")
    app = create_app(TESTING=True)
    app.test_client().get("/")
    assert stackone_warnings(caplog) == []


def test_a_command_that_does_not_serve_logs_nothing(caplog):
    caplog.set_level(logging.DEBUG, "flask_stackone")
    result = create_app().test_cli_runner().invoke(args=["db-upgrade"])
    assert result.output == "upgraded\n"
    assert stackone_warnings(caplog) == []


def test_a_served_app_that_cannot_work_says_so_once_naming_the_settings(caplog):
    caplog.set_level(logging.DEBUG, "flask_stackone")
    app = create_app()
    assert stackone_warnings(caplog) == []  # not while building
    client = app.test_client()
    client.get("/")
    client.get("/")
    logged = stackone_warnings(caplog)
    assert sum("STACKONE_API_KEY is not set" in m for m in logged) == 1
    assert sum("STACKONE_WEBHOOK_SECRET is not set" in m for m in logged) == 1
    assert API_KEY not in caplog.text


def test_a_configured_served_app_logs_nothing(caplog):
    caplog.set_level(logging.DEBUG, "flask_stackone")
    app = create_app(
        STACKONE_API_KEY=API_KEY,
        STACKONE_WEBHOOK_SECRET=WEBHOOK_SECRET,
        STACKONE_HUB_SCRIPT_URL=CDN,
    )
    app.test_client().get("/")
    assert stackone_warnings(caplog) == []


def check(app: Flask):
    return app.test_cli_runner().invoke(args=["stackone", "check"])


def test_check_names_every_problem_and_exits_1(tmp_path):
    result = check(create_app(owner_loader=False, SECRET_KEY=None, STACKONE_HUB_DIR=str(tmp_path)))
    assert result.exit_code == 1
    for setting in ("STACKONE_API_KEY", "STACKONE_WEBHOOK_SECRET", "SECRET_KEY"):
        assert f"- {setting} is not set" in result.output
    assert "@bp.owner_loader" in result.output
    assert "flask stackone hub install" in result.output
    assert result.output.startswith("flask-stackone cannot work (5 problem(s)):\n")


def test_check_exits_0_when_configured():
    app = create_app(
        STACKONE_API_KEY=API_KEY,
        STACKONE_WEBHOOK_SECRET=WEBHOOK_SECRET,
        STACKONE_HUB_SCRIPT_URL=CDN,
    )
    result = check(app)
    assert (result.exit_code, result.output) == (0, "flask-stackone (stackone) is configured.\n")


def test_check_names_a_missing_hub_script(tmp_path):
    app = create_app(
        STACKONE_API_KEY=API_KEY,
        STACKONE_WEBHOOK_SECRET=WEBHOOK_SECRET,
        STACKONE_HUB_DIR=str(tmp_path),
    )
    result = check(app)
    assert result.exit_code == 1
    assert "flask stackone hub install" in result.output
    assert "STACKONE_HUB_SCRIPT_URL" in result.output


# -- the entry point's group: there before (or without) register_blueprint ---------------------


def bare_app(**config: object) -> Flask:
    app = Flask("bare_app")
    app.config.update(config)
    return app


def run_group(app: Flask, *args: str):
    return app.test_cli_runner().invoke(stackone, list(args))


def test_check_without_the_blueprint_says_what_to_register():
    result = run_group(bare_app(), "check")
    assert result.exit_code == 1
    assert "app.register_blueprint(stackone_bp)" in result.output


def test_hub_status_needs_no_blueprint(tmp_path):
    result = run_group(bare_app(STACKONE_HUB_DIR=str(tmp_path)), "hub", "status")
    assert str(tmp_path) in result.output
    assert result.exit_code == 1  # nothing installed there: said, not a traceback


def test_commands_that_need_the_blueprint_say_which_is_missing():
    result = run_group(bare_app(), "accounts", "list")
    assert result.exit_code == 1
    assert "blueprint 'stackone' is not registered" in result.output
    assert "app.register_blueprint(stackone_bp)" in result.output
