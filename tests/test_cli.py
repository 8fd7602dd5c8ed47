"""``flask stackone ...`` through Flask's CLI runner; StackOne mocked with ``responses``,
webhooks sent over real HTTP to the app served on 127.0.0.1."""

from __future__ import annotations

import base64
import contextlib
import http.server
import json
import os
import socket
import subprocess
import sys
import threading

import pytest
from responses import matchers

from flask_stackone import make_blueprint
from flask_stackone.testing import record_events

from . import conftest as shared
from .conftest import API, API_KEY, WEBHOOK_SECRET, assert_no_secret, build_app
from .live_server import serve

OWNER = ["--owner-id", "org_1", "--owner-name", "Acme Ltd"]


def account(id_: str, status: str = "active", **extra) -> dict:
    return {
        "id": id_,
        "provider": "bamboohr",
        "provider_name": "BambooHR",
        "status": status,
        "origin_owner_id": "org_1",
        "origin_owner_name": "Acme Ltd",
        "created_at": "2026-11-20T09:30:00Z",
        **extra,
    }


def run(app, *args: str, input: str | None = None):
    result = app.test_cli_runner().invoke(args=["stackone", *args], input=input)
    assert_no_secret(result.output, "command output")
    if result.exception is not None:
        assert isinstance(result.exception, SystemExit), "an expected error became a traceback"
    return result


def expect_session(api, **body):
    shared.expect_session(
        api, {"origin_owner_id": "org_1", "origin_owner_name": "Acme Ltd", **body}
    )


@pytest.mark.parametrize(
    "command",
    [
        ["session"],
        ["auth-link"],
        ["accounts", "list"],
        ["accounts", "show"],
        ["accounts", "delete"],
        ["trigger"],
    ],
)
def test_every_command_has_help(app, command):
    result = run(app, *command, "--help")
    assert result.exit_code == 0
    assert result.output.startswith("Usage: ")
    assert " ".join(command) in result.output


# -- session and auth-link -------------------------------------------------------------------


def test_session_prints_token_and_auth_link(api, app):
    expect_session(api, provider="bamboohr", categories=["hris"], expires_in=1800)
    result = run(app, "session", *OWNER, "--provider", "bamboohr", "--category", "hris")
    assert result.exit_code == 0, result.output
    assert "token:     hub-token-xyz" in result.output
    assert "auth link: https://hub.stackone.com/link?token=hub-token-xyz" in result.output
    auth = api.calls[0].request.headers["Authorization"]
    assert base64.b64decode(auth.split()[1]).decode() == f"{API_KEY}:"


def test_session_reports_stackone_refusal_without_traceback_or_key(api, app):
    api.post(f"{API}/connect_sessions", status=401, json={"statusCode": 401, "message": "bad key"})
    result = run(app, "session", *OWNER)
    assert result.exit_code == 1
    assert "StackOne call failed: bad key (HTTP 401)" in result.output


def test_session_without_api_key_names_the_setting(api):
    result = run(build_app(STACKONE_API_KEY=None), "session", *OWNER)
    assert result.exit_code == 1
    assert "STACKONE_API_KEY is not set" in result.output


def test_session_refuses_a_provider_outside_the_allow_list(api):
    result = run(build_app(STACKONE_PROVIDERS=["hibob"]), "session", *OWNER, "--provider", "lever")
    assert result.exit_code == 1
    assert "'lever' is not offered" in result.output


def test_session_needs_owner_options(app):
    result = run(app, "session", "--owner-id", "org_1")
    assert result.exit_code == 2
    assert "--owner-name" in result.output


def test_auth_link_prints_stackones_link_and_expiry(api, app):
    expect_session(api, expires_in=2 * 86400)
    result = run(app, "auth-link", *OWNER, "--days", "2")
    assert result.exit_code == 0, result.output
    assert "auth link: https://hub.stackone.com/link?token=hub-token-xyz" in result.output
    assert "(in 2 days)" in result.output


def test_auth_link_refuses_more_than_the_limit(api, app):
    result = run(app, "auth-link", *OWNER, "--days", "30")
    assert result.exit_code == 1
    assert "at most 604800 seconds (7 days)" in result.output
    assert len(api.calls) == 0


def test_onboarding_link_needs_a_base_url_outside_a_request(api, app):
    result = run(app, "auth-link", *OWNER, "--onboarding")
    assert result.exit_code == 1
    assert "SERVER_NAME" in result.output and "--base-url" in result.output
    assert run(app, "auth-link", *OWNER, "--base-url", "https://a.example").exit_code == 2


def test_onboarding_link_printed_by_the_cli_opens_the_page(api, app):
    result = run(
        app, "auth-link", *OWNER, "--onboarding", "--days", "3", "--base-url", "http://localhost"
    )
    assert result.exit_code == 0, result.output
    url = result.output.split("onboarding link: ", 1)[1].split()[0]
    assert url.startswith("http://localhost/stackone/link/")
    assert "(in 3 days)" in result.output
    page = app.test_client().get(url.removeprefix("http://localhost"))
    assert page.status_code == 200 and "Acme Ltd" in page.get_data(as_text=True)
    assert len(api.calls) == 0


def test_onboarding_link_uses_server_name(api):
    app = build_app(SERVER_NAME="app.example.com", PREFERRED_URL_SCHEME="https")
    result = run(app, "auth-link", *OWNER, "--onboarding")
    assert result.exit_code == 0, result.output
    assert "onboarding link: https://app.example.com/stackone/link/" in result.output


def test_a_lifetime_that_rounds_to_zero_is_refused_not_replaced_by_the_default(api):
    app = build_app(SERVER_NAME="app.example.com")
    result = run(app, "auth-link", *OWNER, "--onboarding", "--days", "0.000001")
    assert result.exit_code == 1
    assert "onboarding link" not in result.output and "positive" in result.output


# -- accounts -----------------------------------------------------------------------------------


def test_accounts_list_reads_every_page_and_prints_a_table(api, app):
    first = [account(f"acc_{i:02}") for i in range(25)]
    api.get(
        f"{API}/accounts",
        json=first,
        match=[matchers.query_param_matcher({"page_size": "25", "page": "1"})],
    )
    api.get(
        f"{API}/accounts",
        json={"data": [account("acc_last", "error")]},
        match=[matchers.query_param_matcher({"page_size": "25", "page": "2"})],
    )
    result = run(app, "accounts", "list")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].split() == [
        "ID",
        "PROVIDER",
        "STATUS",
        "OWNER",
        "ID",
        "OWNER",
        "NAME",
        "CREATED",
    ]
    assert len(lines) == 27
    assert lines[-1].split()[:3] == ["acc_last", "bamboohr", "error"]


def test_accounts_list_filters_and_json(api, app):
    api.get(
        f"{API}/accounts",
        json=[account("acc_1", label=None)],
        match=[
            matchers.query_param_matcher(
                {
                    "page_size": "25",
                    "page": "1",
                    "origin_owner_id": "org_1",
                    "providers": ["bamboohr", "hibob"],
                    "status": "active",
                }
            )
        ],
    )
    result = run(
        app,
        "accounts", "list", "--owner-id", "org_1", "--provider", "bamboohr",
        "--provider", "hibob", "--status", "active", "--json",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert [a["id"] for a in data] == ["acc_1"]
    assert data[0]["status"] == "active" and data[0]["origin_owner_name"] == "Acme Ltd"


def test_accounts_list_empty(api, app):
    api.get(f"{API}/accounts", json=[])
    result = run(app, "accounts", "list")
    assert result.exit_code == 0 and result.output.strip() == "No accounts."


def test_accounts_show_active_exits_0(api, app):
    api.get(f"{API}/accounts/acc_1", json=account("acc_1"))
    result = run(app, "accounts", "show", "acc_1")
    assert result.exit_code == 0, result.output
    assert "status:" in result.output and "active" in result.output


def test_accounts_show_not_active_prints_reasons_and_exits_1(api, app):
    reasons = [{"code": "403", "description": "Missing permission: employees.read"}]
    api.get(f"{API}/accounts/acc_2", json=account("acc_2", "error", status_reasons=reasons))
    result = run(app, "accounts", "show", "acc_2")
    assert result.exit_code == 1
    assert "Missing permission: employees.read" in result.output
    assert "not active (status: error)" in result.output


def test_accounts_show_unknown_status_is_not_a_crash(api, app):
    api.get(f"{API}/accounts/acc_3", json=account("acc_3", "paused_by_vendor"))
    result = run(app, "accounts", "show", "acc_3")
    assert result.exit_code == 1 and "paused_by_vendor" in result.output


def test_accounts_show_unknown_account(api, app):
    api.get(f"{API}/accounts/nope", status=404, json={"statusCode": 404, "message": "Not found"})
    result = run(app, "accounts", "show", "nope")
    assert result.exit_code == 1
    assert "StackOne has no such record" in result.output


def test_accounts_delete_asks_first(api, app):
    result = run(app, "accounts", "delete", "acc_1", input="n\n")
    assert result.exit_code == 1 and "Aborted" in result.output
    assert len(api.calls) == 0
    api.delete(f"{API}/accounts/acc_1", json=account("acc_1"))
    result = run(app, "accounts", "delete", "acc_1", input="y\n")
    assert result.exit_code == 0, result.output
    assert "Deleted account acc_1 (bamboohr, owner org_1)." in result.output


def test_accounts_delete_yes(api, app):
    api.delete(f"{API}/accounts/acc_1", json=account("acc_1"))
    result = run(app, "accounts", "delete", "acc_1", "--yes")
    assert result.exit_code == 0 and "Deleted account acc_1" in result.output


def test_a_second_blueprint_instance_uses_its_own_key(api):
    app = build_app(STACKONE_EU_API_KEY="sk_eu_other_key")
    app.register_blueprint(
        make_blueprint("stackone_eu", url_prefix="/eu", config_prefix="STACKONE_EU_")
    )
    api.get(f"{API}/accounts/acc_1", json=account("acc_1"))
    result = app.test_cli_runner().invoke(args=["stackone_eu", "accounts", "show", "acc_1"])
    assert result.exit_code == 0, result.output
    auth = api.calls[0].request.headers["Authorization"]
    assert base64.b64decode(auth.split()[1]).decode() == "sk_eu_other_key:"


def test_each_blueprint_group_holds_the_same_module_level_commands() -> None:
    from flask_stackone import cli, stackone_bp

    eu = make_blueprint("stackone_eu", url_prefix="/eu", config_prefix="STACKONE_EU_")
    assert stackone_bp.cli.commands == eu.cli.commands
    assert stackone_bp.cli.commands["session"] is cli.session
    assert stackone_bp.cli.commands["accounts"] is cli.accounts


def test_commands_merged_into_the_app_group_use_the_default_blueprint(api):
    from flask import Flask

    from flask_stackone import stackone_bp

    app = Flask(__name__)
    app.config.update(STACKONE_API_KEY=API_KEY, STACKONE_WEBHOOK_SECRET=WEBHOOK_SECRET)
    app.register_blueprint(stackone_bp, cli_group=None)
    api.get(f"{API}/accounts/acc_1", json=account("acc_1"))
    result = app.test_cli_runner().invoke(args=["accounts", "show", "acc_1"])
    assert result.exit_code == 0, result.output
    assert "acc_1" in result.output


# -- trigger: a real signed POST to the app on a real port ------------------------------------


def test_trigger_sends_a_signed_event_the_app_accepts():
    app = build_app()
    with serve(app) as base, record_events(app) as events:
        result = run(
            app, "trigger", "account.created", "--account-id", "acc_9",
            "--owner-id", "org_1", "--owner-name", "Acme Ltd", "--base-url", base,
        )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert f"account.created -> {base}/stackone/webhooks" in result.output
    assert "200 OK" in result.output
    assert [(e.type, e.account_id, e.owner_id) for e in events] == [
        ("account.created", "acc_9", "org_1")
    ]
    assert events[0].source == "webhook"


def test_trigger_with_a_wrong_secret_gets_401_and_exits_1():
    app = build_app()
    with serve(app) as base, record_events(app) as events:
        result = run(
            app, "trigger", "account.updated", "--account-id", "acc_9",
            "--url", f"{base}/stackone/webhooks", "--secret", "whsec_wrong",
        )  # fmt: skip
    assert result.exit_code == 1
    assert "401 UNAUTHORIZED" in result.output
    assert events == []


def test_trigger_other_event_types_reach_webhook_received():
    app = build_app()
    with serve(app) as base, record_events(app) as events:
        result = run(
            app, "trigger", "hris_employees.updated", "--account-id", "acc_9", "--base-url", base
        )
    assert result.exit_code == 0, result.output
    assert [e.type for e in events] == ["hris_employees.updated"]


def test_trigger_to_a_closed_port_says_so():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    result = run(
        build_app(), "trigger", "account.created", "--account-id", "a",
        "--base-url", f"http://127.0.0.1:{port}",
    )  # fmt: skip
    assert result.exit_code == 1
    assert "could not reach" in result.output and "is the app running?" in result.output


def test_trigger_needs_a_secret_and_a_target():
    result = run(build_app(STACKONE_WEBHOOK_SECRET=None), "trigger", "x", "--account-id", "a")
    assert result.exit_code == 1 and "STACKONE_WEBHOOK_SECRET is not set" in result.output
    result = run(build_app(), "trigger", "account.created", "--account-id", "a")
    assert result.exit_code == 1 and "SERVER_NAME" in result.output
    assert WEBHOOK_SECRET not in result.output


def test_trigger_output_never_shows_the_secret():
    app = build_app(STACKONE_WEBHOOK_SECRET=["whsec_old", WEBHOOK_SECRET])
    with serve(app) as base:
        result = run(app, "trigger", "account.deleted", "--account-id", "a", "--base-url", base)
    assert result.exit_code == 0, result.output
    assert "whsec_old" not in result.output


def test_owner_values_are_checked(app):
    result = run(app, "session", "--owner-id", " ", "--owner-name", "Acme")
    assert result.exit_code == 2 and "Owner.id" in result.output


# -- a StackOne failure is one line on the console --------------------------------------------

APP_MODULE = """
from flask import Flask
from flask_stackone import make_blueprint

app = Flask(__name__)
app.config.update(
    SECRET_KEY="k",
    STACKONE_API_KEY={key!r},
    STACKONE_WEBHOOK_SECRET="whsec_cli",
    STACKONE_API_URL={url!r},
    STACKONE_MAX_RETRY_WAIT=0.5,
)
app.register_blueprint(make_blueprint())
"""


class RefusingStackOne(http.server.BaseHTTPRequestHandler):
    """StackOne refusing the key (401) and knowing no account (404), in its error shape."""

    def answer(self, status: int, message: str) -> None:
        body = json.dumps({"statusCode": status, "message": message}).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.answer(401, "Invalid API key")

    def do_GET(self) -> None:
        self.answer(404, "Account not found")

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def flask_cmd(tmp_path):
    """Run ``flask --app cliapp stackone ...`` in a new process, as a user does, against a
    local StackOne stub: the console shows exactly what the user would see."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), RefusingStackOne)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.server_port}"
    (tmp_path / "cliapp.py").write_text(APP_MODULE.format(key=API_KEY, url=url))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("STACKONE_", "FLASK_"))}

    def flask(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(  # noqa: S603 - our own command line
            [sys.executable, "-m", "flask", "--app", "cliapp", "stackone", *args],
            capture_output=True, text=True, cwd=tmp_path, env=env, timeout=60, check=False,
        )  # fmt: skip

    try:
        yield flask
    finally:
        server.shutdown()
        server.server_close()


def test_a_refused_api_key_prints_one_error_line(flask_cmd):
    result = flask_cmd("session", *OWNER)
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.splitlines() == ["Error: StackOne call failed: Invalid API key (HTTP 401)"]
    assert_no_secret(result.stderr, "command output")


def test_an_unknown_account_prints_one_error_line(flask_cmd):
    result = flask_cmd("accounts", "show", "acc_missing")
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        "Error: StackOne has no such record: Account not found (HTTP 404)"
    ]


@pytest.mark.parametrize(
    "args",
    [
        ["accounts", "show", ".."],
        ["accounts", "show", "."],
        ["accounts", "show", ""],
        ["accounts", "show", "acc_1\n"],
        ["accounts", "show", "../connect_sessions"],
        ["accounts", "delete", "..", "--yes"],
        ["accounts", "delete", "", "--yes"],
    ],
)
def test_an_id_that_is_not_a_stackone_id_is_one_line_on_stderr(api, app, args):
    """``flask stackone accounts show ..`` printed a ValueError traceback."""
    result = app.test_cli_runner().invoke(args=["stackone", *args])
    assert result.exit_code != 0
    assert isinstance(result.exception, SystemExit), "a traceback, not a message"
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and "not a StackOne account id" in lines[0], result.output
    with contextlib.suppress(ValueError):  # click < 8.2 mixes both streams by default
        assert result.stderr.strip() == lines[0]  # on stderr, not stdout
    assert "Traceback" not in result.output
    assert len(api.calls) == 0


def test_onboarding_link_uses_the_public_url_setting(api):
    app = build_app(STACKONE_PUBLIC_URL="https://people.example.com")
    result = run(app, "auth-link", *OWNER, "--onboarding")
    assert result.exit_code == 0, result.output
    assert "onboarding link: https://people.example.com/stackone/link/" in result.output
