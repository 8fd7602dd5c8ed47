"""The sandbox as an app of its own: ``python -m flask_stackone.sandbox`` started as a
process and driven over real HTTP with ``requests`` (any stack's view of it), its signed
webhooks verified by a receiver that is not a Flask app, StackOne's error body everywhere,
and nothing of the plugin imported."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import requests

from flask_stackone.core.webhooks import compute_signature
from flask_stackone.sandbox import create_app, get_sandbox, stop_deliveries

from .emulator import ROOT, Receiver, emulator
from .live_server import serve

#: Modules of the plugin the sandbox must never import (it uses the core only).
PLUGIN_MODULES = (
    "flask_stackone.config", "flask_stackone.routes",
    "flask_stackone.services", "flask_stackone.widget", "flask_stackone.blueprint",
    "flask_stackone.widget.assets", "flask_stackone.cli", "flask_stackone.signals",
    "flask_stackone.error_answers", "flask_stackone.errors",
    "flask_stackone.sandbox_mount", "flask_stackone.testing",
)  # fmt: skip


def hub_link(base: str, token: str, integration: str, **credentials: str) -> requests.Response:
    """What the Hub sends when the customer submits a connector's form."""
    return requests.post(
        f"{base}/hub/accounts",
        json={"integration_id": integration, "credentials": credentials},
        headers={"x-hub-session-token": token, "x-hub-version": "1.11.4"},
        timeout=10,
    )


def stackone_error(response: requests.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, (response.status_code, response.text)
    assert response.headers["Content-Type"].startswith("application/json")
    body = response.json()
    assert body["statusCode"] == status and body["message"] and body["timestamp"].endswith("Z")
    return body


def test_the_standalone_server_speaks_stackone_and_signs_its_webhooks(tmp_path: Path) -> None:
    receiver = Receiver(secret="")
    with (
        serve(receiver) as hooks,
        emulator(
            tmp_path, "--webhook-url", f"{hooks}/hooks", "--delivery-backoff", "0.05"
        ) as sandbox,
    ):
        receiver.secret = sandbox.webhook_secret
        base, auth = sandbox.base_url, sandbox.auth
        assert "STACKONE SANDBOX IS ON" in sandbox.printed
        assert base.startswith("http://127.0.0.1:") and sandbox.api_key.startswith("sbx_sk_")
        assert sandbox.webhook_url == f"{hooks}/hooks"
        assert "WARNING" not in sandbox.stderr()  # loopback: no warning

        refused = requests.post(f"{base}/connect_sessions", json={}, timeout=10)
        stackone_error(refused, 401)
        made = requests.post(
            f"{base}/connect_sessions",
            json={"origin_owner_id": "org_a", "origin_owner_name": "A Ltd", "categories": ["hris"]},
            auth=auth,
            timeout=10,
        )
        assert made.status_code == 201
        session = made.json()
        assert isinstance(session["organization_id"], str) and session["organization_id"].isdigit()
        assert session["auth_link_url"].startswith(f"{base}/auth-link/")
        other = requests.post(
            f"{base}/connect_sessions",
            json={"origin_owner_id": "org_b", "origin_owner_name": "B Ltd"},
            auth=auth,
            timeout=10,
        ).json()
        first = hub_link(base, session["token"], "sbx-bamboohr", subdomain="a", api_key="k")
        second = hub_link(
            base, session["token"], "sbx-hibob", service_user_id="SERVICE-1",
            service_user_token="error-no-permission",
        )  # fmt: skip
        third = hub_link(base, other["token"], "sbx-greenhouse", api_key="k")
        ids = [r.json()["id"] for r in (first, second, third)]
        assert [r.status_code for r in (first, second, third)] == [201, 201, 201]

        def listed(params: Any) -> list[str]:
            response = requests.get(f"{base}/accounts", params=params, auth=auth, timeout=10)
            assert response.status_code == 200, response.text
            return [a["id"] for a in response.json()]

        assert listed({}) == ids
        assert listed({"origin_owner_ids": ["org_a", "org_b"]}) == ids
        assert listed([("origin_owner_ids", "org_b")]) == ids[2:]
        assert listed({"origin_owner_id": "org_a"}) == ids[:2]
        assert listed({"provider": "hibob"}) == ids[1:2]
        assert listed({"providers": ["bamboohr", "greenhouse"]}) == [ids[0], ids[2]]
        assert listed({"status": "error"}) == ids[1:2]
        assert listed({"account_ids": [ids[0], ids[1]], "page_size": 1, "page": 2}) == ids[1:2]

        patched = requests.patch(
            f"{base}/accounts/{ids[0]}",
            json={
                "authentication_config_key": "default", "credentials": {"api_key": "k2"},
                "environment": "production", "label": "Payroll", "metadata": {"team": "hr"},
                "origin_owner_id": "org_a", "origin_owner_name": "A Limited",
                "origin_username": "ada@a.example", "provider": "bamboohr",
                "secrets": {"api_key": "k2"}, "setup_information": {"subdomain": "a2"},
                "type": "test",
            },
            auth=auth,
            timeout=10,
        )  # fmt: skip
        assert patched.status_code == 200, patched.text
        account = patched.json()
        assert (account["label"], account["origin_owner_name"], account["type"]) == (
            "Payroll", "A Limited", "test",
        )  # fmt: skip
        assert account["setup_information"] == {"subdomain": "a2"}
        assert "credentials" not in account and "secrets" not in account
        stackone_error(
            requests.patch(f"{base}/accounts/{ids[0]}", json={"nope": 1}, auth=auth, timeout=10),
            400,
        )
        stackone_error(
            requests.patch(
                f"{base}/accounts/{ids[0]}", json={"provider": "nope"}, auth=auth, timeout=10
            ),
            400,
        )

        meta = requests.get(f"{base}/accounts/{ids[2]}/meta", auth=auth, timeout=10).json()
        assert meta["provider"] == "greenhouse" and meta["category"] == "ats"
        assert "candidates" in meta["models"]
        connectors = requests.get(
            f"{base}/connectors/meta", params={"include": "resources"}, auth=auth, timeout=10
        ).json()
        keys = [c["provider"] for c in connectors]
        assert {"bamboohr", "hibob", "workday", "lever", "salesforce"} <= set(keys)
        hibob = connectors[keys.index("hibob")]
        assert (hibob["provider_name"], hibob["category"], hibob["active"]) == (
            "HiBob", "hris", True,
        )  # fmt: skip
        logo = hibob["resources"]["images"]["logo_url"]
        assert logo == f"{base}/logos/hibob.svg"
        image = requests.get(logo, timeout=10)
        assert (
            image.headers["Content-Type"].startswith("image/svg+xml") and b"<svg" in image.content
        )
        plain = requests.get(f"{base}/connectors/meta/lever", auth=auth, timeout=10).json()
        assert plain["provider_name"] == "Lever" and "resources" not in plain
        stackone_error(requests.get(f"{base}/connectors/meta/nope", auth=auth, timeout=10), 404)
        stackone_error(
            requests.get(f"{base}/connectors/meta?include=everything", auth=auth, timeout=10), 400
        )

        deleted = requests.delete(f"{base}/accounts/{ids[2]}", auth=auth, timeout=10)
        assert deleted.status_code == 200 and deleted.json()["id"] == ids[2]
        stackone_error(requests.get(f"{base}/accounts/{ids[2]}", auth=auth, timeout=10), 404)

        events = receiver.wait_for(5)
    assert receiver.refused == 0
    assert [(e["event"], e["account_id"]) for e in events] == [
        ("account.created", ids[0]),
        ("account.created", ids[1]),
        ("account.created", ids[2]),
        ("account.updated", ids[0]),
        ("account.deleted", ids[2]),
    ]
    assert events[0]["origin_owner_id"] == "org_a" and events[0]["provider"] == "bamboohr"


def test_a_failing_receiver_gets_the_same_signed_bytes_again(tmp_path: Path) -> None:
    receiver = Receiver(secret="whsec_given", fail_first=2)
    with serve(receiver) as hooks, emulator(
        tmp_path, "--webhook-url", f"{hooks}/", "--webhook-secret", "whsec_given",
        "--api-key", "sk_given", "--delivery-backoff", "0.05",
    ) as sandbox:  # fmt: skip
        # Values passed on the command line are not echoed back.
        assert sandbox.api_key == "(as passed with --api-key)"
        assert "whsec_given" not in sandbox.printed and "sk_given" not in sandbox.printed
        token = requests.post(
            f"{sandbox.base_url}/connect_sessions",
            json={"origin_owner_id": "o", "origin_owner_name": "O"},
            auth=("sk_given", ""),
            timeout=10,
        ).json()["token"]
        assert hub_link(sandbox.base_url, token, "sbx-rippling", api_token="t").status_code == 201
        events = receiver.wait_for(1)
    assert receiver.calls == 3 and len(events) == 1 and receiver.refused == 0


def test_a_public_address_gets_a_loud_warning(tmp_path: Path) -> None:
    with emulator(tmp_path, "--host", "0.0.0.0") as sandbox:  # noqa: S104 - the point of the test
        warning = sandbox.stderr()
    assert "WARNING: the sandbox listens on 0.0.0.0" in warning
    assert "dashboard" in warning and "/reset" in warning


def test_a_bad_option_is_refused_with_a_message(tmp_path: Path) -> None:
    done = subprocess.run(  # noqa: S603 - fixed arguments
        [sys.executable, "-m", "flask_stackone.sandbox", "--webhook-url", "ftp://x", "--port", "0",
         "--data", str(tmp_path / "s.sqlite3")],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 2 and "SANDBOX_WEBHOOK_URL must be an http(s) URL" in done.stderr


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/", 200),
        ("GET", "/no-such-page", 404),
        ("GET", "/accounts/x/y/z", 404),
        ("PUT", "/accounts", 405),
        ("GET", "/connect_sessions", 405),
        ("GET", "/hub/nope", 404),
        ("DELETE", "/connectors/meta", 405),
        ("GET", "/unified/hris/employees", 501),
        ("POST", "/proxy", 501),
    ],
)
def test_every_api_path_answers_stackones_error_body(
    tmp_path: Path, method: str, path: str, status: int
) -> None:
    app = create_app({"SANDBOX_DB": str(tmp_path / "s.sqlite3"), "SANDBOX_API_KEY": "sk_1"})
    try:
        response = app.test_client().open(path, method=method, auth=("sk_1", ""))
    finally:
        stop_deliveries(app)
    assert response.status_code == status
    if status >= 400:
        assert set(response.get_json()) == {"statusCode", "message", "timestamp"}
        assert response.get_json()["statusCode"] == status


def test_the_sandbox_imports_nothing_of_the_plugin(tmp_path: Path) -> None:
    code = (
        "import sys, json\n"
        "from flask_stackone.sandbox import create_app\n"
        f"app = create_app({{'SANDBOX_DB': {str(tmp_path / 's.sqlite3')!r}}})\n"
        "app.test_client().get('/')\n"
        "print(json.dumps(sorted(m for m in sys.modules if m.startswith('flask_stackone'))))\n"
    )
    done = subprocess.run(  # noqa: S603 - fixed arguments
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    loaded = json.loads(done.stdout)
    assert "flask_stackone.sandbox.app" in loaded
    assert not [m for m in loaded if m.startswith(PLUGIN_MODULES)], loaded
    # And statically: every import in the package points into it or into the core.
    package = ROOT / "flask_stackone" / "sandbox"
    for source in package.rglob("*.py"):
        for node in ast.walk(ast.parse(source.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.level >= 2:
                assert (node.module or "").startswith("core"), f"{source.name}: ..{node.module}"
            if isinstance(node, ast.ImportFrom) and node.level == 0:
                assert not (node.module or "").startswith("flask_stackone"), source.name
            if isinstance(node, ast.Import):
                assert not any(a.name.startswith("flask_stackone") for a in node.names)


def test_a_delivery_is_signed_exactly_as_stackone_signs(tmp_path: Path) -> None:
    receiver = Receiver(secret="whsec_test_secret")
    app = create_app(
        {
            "SANDBOX_DB": str(tmp_path / "s.sqlite3"),
            "SANDBOX_API_KEY": "sk_1",
            "SANDBOX_WEBHOOK_SECRET": "whsec_test_secret",
        }
    )
    try:
        with serve(receiver) as hooks:
            sandbox = get_sandbox(app)
            assert sandbox is not None
            sandbox.learn_webhook_url(f"{hooks}/")
            body = b'{"event":"account.created","account_id":"acc_1"}'
            sandbox.store.enqueue("account.created", "acc_1", body)
            sandbox.deliverer.kick()
            assert receiver.wait_for(1) == [json.loads(body)]
    finally:
        stop_deliveries(app)
    # StackOne's documented test vector.
    assert (
        compute_signature(body, "whsec_test_secret")
        == "o1ephrdEs_SuSeQokaBMlI0nm8iYRRBR5CrmxW7roUM"
    )
