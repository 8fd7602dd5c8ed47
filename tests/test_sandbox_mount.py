"""The sandbox mounted in a host app (``STACKONE_SANDBOX``): WSGI dispatch with no hook on
the host's own requests, the plugin's state built once, URLs learned from this run only,
its own settings, one reading of ``STACKONE_SANDBOX``, and a banner only where it informs."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from flask import Flask

from flask_stackone import get_client, get_state, make_blueprint
from flask_stackone.core.errors import ConfigurationError
from flask_stackone.sandbox import get_sandbox, stop_deliveries, wait_for_deliveries
from flask_stackone.sandbox.transport import IN_PROCESS_URL
from flask_stackone.sandbox_mount import FALLBACK_ROOT

from .conftest import build_app
from .live_server import serve
from .test_sandbox import sandbox_app

HOOK_LISTS = (
    "before_request_funcs", "after_request_funcs", "teardown_request_funcs",
    "url_value_preprocessors", "url_default_functions", "template_context_processors",
)  # fmt: skip


@pytest.fixture
def apps() -> Iterator[list[Flask]]:
    built: list[Flask] = []
    yield built
    for app in built:
        stop_deliveries(app)


def hooks(app: Flask) -> dict[str, int]:
    return {name: sum(len(v) for v in getattr(app, name).values()) for name in HOOK_LISTS}


def test_mounting_adds_no_hook_no_route_and_never_changes_the_state(
    tmp_path: Path, apps: list[Flask]
) -> None:
    plain = build_app()
    app = sandbox_app(tmp_path)
    apps.append(app)

    @app.get("/own")
    def own() -> str:
        return "the host's own page"

    assert hooks(app) == hooks(plain)
    assert set(app.blueprints) == set(plain.blueprints) == {"stackone"}
    assert not [r.rule for r in app.url_map.iter_rules() if "sandbox" in r.rule]
    state = get_state(app)
    frozen = repr(state), state.settings
    assert state.settings.api_url == IN_PROCESS_URL and state.sandbox_path == "/stackone-sandbox"
    with serve(app) as base:
        assert requests.get(f"{base}/own", timeout=5).text == "the host's own page"
        assert requests.get(f"{base}/stackone-sandbox/", timeout=5).status_code == 200
        refused = requests.get(f"{base}/stackone-sandbox/hub/settings", timeout=5)
        assert refused.status_code == 401 and refused.json()["statusCode"] == 401
        assert requests.get(f"{base}/nothing-here", timeout=5).status_code == 404
        session = requests.post(
            f"{base}/stackone/connect-session", headers={"X-StackOne-Request": "1"}, timeout=5
        )
        assert session.status_code == 200
    assert get_state(app) is state and (repr(state), state.settings) == frozen


def test_urls_of_an_earlier_run_are_never_reused(tmp_path: Path, apps: list[Flask]) -> None:
    first = sandbox_app(tmp_path)
    apps.append(first)
    with serve(first) as earlier:
        answer = requests.post(
            f"{earlier}/stackone/connect-session", headers={"X-StackOne-Request": "1"}, timeout=5
        )
        assert answer.status_code == 200
        assert get_sandbox(first).webhook_url() == f"{earlier}/stackone/webhooks"
    stop_deliveries(first)

    second = sandbox_app(tmp_path)  # same instance folder, same database
    apps.append(second)
    box = get_sandbox(second)
    assert box is not None and box.store.meta("public_url") is None
    assert box.webhook_url() is None  # not the earlier run's
    session = get_client(second).create_connect_session(origin_owner_id="o", origin_owner_name="O")
    assert session.auth_link_url.startswith(f"{FALLBACK_ROOT}stackone-sandbox/auth-link/")
    with serve(second) as now:
        assert now != earlier
        requests.get(f"{now}/stackone-sandbox/", timeout=5)  # a request to the sandbox
        assert box.webhook_url() == f"{now}/stackone/webhooks"
        later = get_client(second).create_connect_session(
            origin_owner_id="o", origin_owner_name="O"
        )
        assert later.auth_link_url.startswith(f"{now}/stackone-sandbox/auth-link/")


def test_server_name_gives_the_links_and_the_webhook_url(tmp_path: Path, apps: list[Flask]) -> None:
    app = sandbox_app(tmp_path, SERVER_NAME="acme.test:8000", PREFERRED_URL_SCHEME="https")
    apps.append(app)
    session = get_client(app).create_connect_session(origin_owner_id="o", origin_owner_name="O")
    assert session.auth_link_url.startswith("https://acme.test:8000/stackone-sandbox/auth-link/")
    assert get_sandbox(app).webhook_url() == "https://acme.test:8000/stackone/webhooks"


def test_the_public_url_gives_the_links_and_the_webhook_url(
    tmp_path: Path, apps: list[Flask]
) -> None:
    app = sandbox_app(tmp_path, STACKONE_PUBLIC_URL="https://people.example.test/app")
    apps.append(app)
    session = get_client(app).create_connect_session(origin_owner_id="o", origin_owner_name="O")
    prefix = "https://people.example.test/app/stackone-sandbox/auth-link/"
    assert session.auth_link_url.startswith(prefix)
    assert get_sandbox(app).webhook_url() == "https://people.example.test/app/stackone/webhooks"


def test_the_configured_webhook_url_wins(tmp_path: Path, apps: list[Flask]) -> None:
    app = sandbox_app(tmp_path, STACKONE_SANDBOX_WEBHOOK_URL="http://127.0.0.1:9/hooks")
    apps.append(app)
    with serve(app) as base:
        requests.get(f"{base}/stackone-sandbox/", timeout=5)
    assert get_sandbox(app).webhook_url() == "http://127.0.0.1:9/hooks"
    config = get_sandbox(app).config
    assert config.webhook_url == get_state(app).settings.sandbox_config.webhook_url


@pytest.mark.parametrize(
    ("key", "value", "named"),
    [
        ("STACKONE_SANDBOX_DELIVERY_ATEMPTS", 3, "STACKONE_SANDBOX_DELIVERY_ATEMPTS"),
        ("STACKONE_SANDBOX_DB", 123, "STACKONE_SANDBOX_DB"),
        ("STACKONE_SANDBOX_DELIVERY_BACKOFF", "soon", "STACKONE_SANDBOX_DELIVERY_BACKOFF"),
        ("STACKONE_SANDBOX_WEBHOOK_URL", "not a url", "STACKONE_SANDBOX_WEBHOOK_URL"),
        ("STACKONE_SANDBOX_API_KEY", "sk_1", "STACKONE_SANDBOX_API_KEY is not a setting"),
    ],
)
def test_a_wrong_sandbox_setting_is_refused_by_name(
    tmp_path: Path, key: str, value: Any, named: str
) -> None:
    with pytest.raises(ConfigurationError, match=named):
        sandbox_app(tmp_path, **{key: value})


def test_sandbox_settings_are_checked_while_it_is_off_without_loading_it(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="STACKONE_SANDBOX_DELIVERY_ATEMPTS"):
        build_app(STACKONE_SANDBOX_DELIVERY_ATEMPTS=3)
    code = (
        "import sys\n"
        "from flask import Flask\n"
        "from flask_stackone import make_blueprint\n"
        "app = Flask('off', instance_path=sys.argv[1])\n"
        "app.config.update(STACKONE_API_KEY='sk', STACKONE_SANDBOX_DB='box.sqlite3')\n"
        "app.register_blueprint(make_blueprint())\n"
        "print(sorted(m for m in sys.modules if m.startswith('flask_stackone.sandbox.')))\n"
    )
    done = subprocess.run(  # noqa: S603 - fixed arguments
        [sys.executable, "-c", code, str(tmp_path)],
        capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    assert done.stdout.strip() == "['flask_stackone.sandbox.config']"  # no app, no store
    assert not (tmp_path / "box.sqlite3").exists()


def test_one_app_one_sandbox(tmp_path: Path, apps: list[Flask]) -> None:
    app = sandbox_app(tmp_path)
    apps.append(app)
    second = make_blueprint("stackone_eu", url_prefix="/eu", config_prefix="STACKONE_")
    with pytest.raises(ConfigurationError, match="only one flask-stackone blueprint"):
        app.register_blueprint(second)


@pytest.mark.parametrize("value", ["off", "OFF", "false", "False", "no", "0", "", " ", False, 0])
def test_off_values_turn_the_sandbox_off(value: Any) -> None:
    app = build_app(STACKONE_SANDBOX=value)
    assert get_state(app).settings.sandbox is False and get_sandbox(app) is None


@pytest.mark.parametrize("value", ["on", "1", "true", "True", "yes", True, 1])
def test_on_values_turn_the_sandbox_on(tmp_path: Path, value: Any, apps: list[Flask]) -> None:
    app = build_app(instance_path=str(tmp_path), STACKONE_SANDBOX=value)
    apps.append(app)
    assert get_state(app).settings.sandbox is True and get_sandbox(app) is not None


@pytest.mark.parametrize("value", ["ture", "maybe", "2", 2, "of", [1]])
def test_any_other_value_is_refused(value: Any) -> None:
    with pytest.raises(ConfigurationError, match="STACKONE_SANDBOX must be on or off"):
        build_app(STACKONE_SANDBOX=value)


def test_delivery_settings_reach_the_mounted_sandbox(tmp_path: Path, apps: list[Flask]) -> None:
    app = sandbox_app(
        tmp_path,
        STACKONE_SANDBOX_DB="elsewhere/box.sqlite3",
        STACKONE_SANDBOX_DELIVERY_ATTEMPTS="4",
        STACKONE_SANDBOX_DELIVERY_BACKOFF="0.5",
        STACKONE_TIMEOUT=3,
    )
    apps.append(app)
    box = get_sandbox(app)
    assert box.store.path == str(tmp_path / "elsewhere" / "box.sqlite3")
    assert (box.deliverer.attempts, box.deliverer.backoff, box.deliverer.timeout) == (4, 0.5, 3.0)
    assert wait_for_deliveries(app, 1)


def test_a_request_from_another_machine_is_warned_about_once(
    tmp_path: Path, apps: list[Flask], caplog: pytest.LogCaptureFixture
) -> None:
    app = sandbox_app(tmp_path)
    apps.append(app)
    client = app.test_client()
    served = {"SERVER_SOFTWARE": "gunicorn/23", "REMOTE_ADDR": "127.0.0.1"}
    client.get("/stackone-sandbox/", environ_base=served)
    client.get("/own-page", environ_base={**served, "REMOTE_ADDR": "10.1.2.3"})
    assert "REACHED FROM" not in caplog.text  # loopback, and not the sandbox
    for _ in range(2):
        client.get("/stackone-sandbox/", environ_base={**served, "REMOTE_ADDR": "10.1.2.3"})
    warnings = [r for r in caplog.records if "REACHED FROM 10.1.2.3" in r.getMessage()]
    assert len(warnings) == 1 and warnings[0].levelname == "WARNING"


# -- the banner ------------------------------------------------------------------------------

APP_FILE = """
from flask import Flask
from flask_stackone import Owner, make_blueprint

app = Flask(__name__)
app.config.update(SECRET_KEY="k", STACKONE_SANDBOX=True)
bp = make_blueprint()
bp.owner_loader(lambda: Owner("o", "O"))
app.register_blueprint(bp)
"""


def flask_command(folder: Path, *args: str, timeout: float = 60) -> str:
    done = subprocess.run(  # noqa: S603 - fixed arguments
        [sys.executable, "-m", "flask", "--app", "banner_app", *args],
        cwd=folder, env=clean_env(), capture_output=True, text=True, timeout=timeout, check=False,
    )  # fmt: skip
    return done.stdout + done.stderr


def clean_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("STACKONE_", "FLASK_"))}
    if "STACKONE_HUB_DIR" in os.environ:
        env["STACKONE_HUB_DIR"] = os.environ["STACKONE_HUB_DIR"]
    return env


def test_the_banner_shows_where_it_informs_and_nowhere_else(tmp_path: Path) -> None:
    (tmp_path / "banner_app.py").write_text(APP_FILE, encoding="utf-8")
    assert "SANDBOX IS ON" not in flask_command(tmp_path, "--help")
    assert "SANDBOX IS ON" not in flask_command(tmp_path, "routes")
    reset = flask_command(tmp_path, "stackone", "sandbox", "reset")
    assert reset.count("SANDBOX IS ON") == 1 and "Sandbox reset" in reset

    server = subprocess.Popen(
        [sys.executable, "-m", "flask", "--app", "banner_app", "run", "--port", "0"],
        cwd=tmp_path, env=clean_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        text=True, start_new_session=True,
    )  # fmt: skip
    lines: list[str] = []
    try:
        assert server.stdout is not None
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            line = server.stdout.readline()
            if not line:
                break
            lines.append(line)
            if "Running on" in line:
                break
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(10)
        if server.stdout is not None:
            server.stdout.close()
    output = "".join(lines)
    assert "Running on" in output, output
    banner = [line for line in lines if "SANDBOX IS ON" in line or "never enable" in line]
    assert len(banner) == 2 and "STACKONE_SANDBOX" in banner[0], output


def test_a_sandbox_run_leaves_nothing_for_git_to_show(tmp_path: Path, apps: list[Flask]) -> None:
    """A host app with no ``.gitignore``: the sandbox's file (its generated secrets) and its
    instance folder stay out of ``git status``."""
    repo = tmp_path / "host"
    repo.mkdir()
    git = ["git", "-C", str(repo)]
    subprocess.run([*git, "init", "-q"], check=True, timeout=60)  # noqa: S603
    (repo / "app.py").write_text("# the host's code\n")
    app = build_app(instance_path=str(repo / "instance"), STACKONE_SANDBOX=True)
    apps.append(app)
    with app.app_context():
        session = get_client(app).create_connect_session(origin_owner_id="o", origin_owner_name="O")
    assert session.token
    sandbox_files = {p.name for p in (repo / "instance" / "stackone-sandbox").iterdir()}
    assert {".gitignore", "sandbox.sqlite3"} <= sandbox_files
    status = subprocess.run(  # noqa: S603
        [*git, "status", "--porcelain", "--untracked-files=all"],
        capture_output=True, text=True, check=True, timeout=60,
    ).stdout  # fmt: skip
    assert status.splitlines() == ["?? app.py"]


def test_a_folder_that_exists_gets_no_gitignore(tmp_path: Path, apps: list[Flask]) -> None:
    app = build_app(STACKONE_SANDBOX=True, STACKONE_SANDBOX_DB=str(tmp_path / "mine.sqlite3"))
    apps.append(app)
    assert not (tmp_path / ".gitignore").exists()  # the host's own folder: left as it is
