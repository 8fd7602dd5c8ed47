"""Every Python sample in README.md and docs/*.md runs.

The fenced ```python blocks of one page run in order in one namespace (like a reader
typing them into one session), in an empty temporary folder, with StackOne answered by
``responses``. Conventions a page may use:

- a block whose first line is ``# app.py`` (any ``*.py`` path) is written to that file and
  imported as that module, so ``Flask(__name__)`` finds its templates;
- a block whose first line is ``{# templates/page.html #}`` is written to that file;
- ``<!-- not-run: why -->`` on the line before a block skips it (for fragments that need
  something the page does not show, such as a login manager). Use sparingly.
- ``<!-- needs: redis -->`` (or ``postgres``, or both, comma-separated) on the line before a
  block: the page runs against real servers started for the test (see tests/servers.py), whose
  URLs are in the environment as ``REDIS_URL`` and ``DATABASE_URL``. A missing server skips the
  page locally and fails it in CI.
"""

from __future__ import annotations

import contextlib
import gc
import importlib
import json
import os
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import responses
from flask import Flask

from flask_stackone import stackone_bp

from .conftest import API, API_KEY, WEBHOOK_SECRET
from .servers import shared_postgres, shared_redis  # noqa: F401 - fixtures for pages' needs

#: What ``<!-- needs: name -->`` starts, and the environment variable holding its URL.
SERVERS = {"redis": ("shared_redis", "REDIS_URL"), "postgres": ("shared_postgres", "DATABASE_URL")}

ROOT = Path(__file__).resolve().parent.parent
PAGES = sorted([ROOT / "README.md", *(ROOT / "docs").glob("*.md")])
FENCE = re.compile(
    r"^(?P<marker><!--\s*(?:not-run:(?P<why>.*?)|needs:(?P<needs>[\w ,]+?))\s*-->\s*\n)?"
    r"```(?P<lang>[\w-]*)[^\n]*\n(?P<code>.*?)^```",
    re.S | re.M,
)
PY_FILE = re.compile(r"^# (?P<path>[\w./-]+\.py)\s*$")
TEMPLATE_FILE = re.compile(r"^\{# (?P<path>[\w./-]+\.html) #\}\s*$")


@dataclass(frozen=True)
class Block:
    page: Path
    line: int
    lang: str
    code: str
    skipped_because: str | None
    needs: tuple[str, ...] = ()

    @property
    def where(self) -> str:
        return f"{self.page.relative_to(ROOT)}:{self.line}"

    @property
    def file(self) -> str | None:
        first = self.code.split("\n", 1)[0]
        match = PY_FILE.match(first) if self.lang == "python" else TEMPLATE_FILE.match(first)
        return match.group("path") if match else None


def blocks(page: Path) -> list[Block]:
    text = page.read_text(encoding="utf-8")
    found = []
    for match in FENCE.finditer(text):
        why = match.group("why")
        found.append(
            Block(
                page=page,
                line=text.count("\n", 0, match.start("code")) + 1,
                lang=match.group("lang"),
                code=match.group("code"),
                skipped_because=why.strip() if why is not None else None,
                needs=tuple(
                    n.strip() for n in (match.group("needs") or "").split(",") if n.strip()
                ),
            )
        )
    return found


def fake_account(account_id: str) -> dict[str, Any]:
    return {
        "id": account_id,
        "provider": "bamboohr",
        "provider_name": "BambooHR",
        "status": "active",
        "status_reasons": [],
        "origin_owner_id": "org_42",
        "origin_owner_name": "Acme Ltd",
        "origin_username": "ada@acme.example",
        "created_at": "2025-05-01T10:00:00.000Z",
        "updated_at": "2025-05-01T10:00:00.000Z",
    }


def fake_connector(provider: str, name: str, category: str) -> dict[str, Any]:
    logo = f"https://stackone-logos.com/api/{provider}/filled/png"
    return {
        "provider": provider,
        "provider_name": name,
        "category": category,
        "active": True,
        "models": {},
        "resources": {"images": {"logo_url": logo, "original_logo_horizontal_url": logo}},
    }


def stackone_answers(mock: responses.RequestsMock) -> None:
    """Plausible StackOne answers for whatever a sample calls."""

    def session(request: Any) -> tuple[int, dict[str, str], str]:
        sent = json.loads(request.body)
        answer = {
            "id": 1,
            "organization_id": "1",
            "project_id": "p1",
            "token": "hub-session-token",
            "auth_link_url": "https://app.stackone.com/hub/connect?token=hub-session-token",
            "created_at": "2025-05-01T10:00:00.000Z",
            **sent,
        }
        return 201, {}, json.dumps(answer)

    def account(request: Any) -> tuple[int, dict[str, str], str]:
        account_id = request.url.rsplit("/", 1)[-1]
        if account_id.startswith("deleted_"):  # an account disconnected since
            gone = {"statusCode": 404, "message": "Account not found", "timestamp": "2025-05-01"}
            return 404, {}, json.dumps(gone)
        return 200, {}, json.dumps(fake_account(account_id))

    accounts = re.compile(rf"{re.escape(API)}/accounts/[^/?]+$")
    mock.add_callback(responses.POST, f"{API}/connect_sessions", callback=session)
    mock.add_callback(responses.GET, accounts, callback=account)
    mock.add_callback(responses.PATCH, accounts, callback=account)
    mock.add_callback(responses.DELETE, accounts, callback=account)
    mock.get(f"{API}/accounts", json=[fake_account("acc_1")])
    mock.get(f"{API}/connectors/meta", json=[fake_connector("bamboohr", "BambooHR", "hris")])
    mock.add_passthru("http://127.0.0.1")
    mock.add_passthru("http://localhost")


@pytest.fixture
def sandboxed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """An empty folder as the working directory, test settings in the environment,
    StackOne mocked, and the shared blueprint's owner loader restored afterwards."""
    for name in [n for n in os.environ if n.startswith(("STACKONE_", "FLASK_"))]:
        if name != "STACKONE_HUB_DIR":
            monkeypatch.delenv(name)
    monkeypatch.setenv("FLASK_SECRET_KEY", "docs-test-secret-key")
    monkeypatch.setenv("FLASK_STACKONE_API_KEY", API_KEY)
    monkeypatch.setenv("FLASK_STACKONE_WEBHOOK_SECRET", WEBHOOK_SECRET)
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    loader = stackone_bp.owner_loader_func
    modules = set(sys.modules)
    try:
        with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
            stackone_answers(mock)
            yield tmp_path
    finally:
        stackone_bp.owner_loader_func = loader
        for name in set(sys.modules) - modules:
            if getattr(sys.modules[name], "__file__", "") and str(tmp_path) in str(
                sys.modules[name].__file__
            ):
                del sys.modules[name]


def run_page(page: Path, folder: Path) -> dict[str, Any]:
    """Write the page's files and run its Python blocks in order; return the namespace."""
    namespace: dict[str, Any] = {"__name__": f"docs_{page.stem.replace('-', '_')}"}
    for block in blocks(page):
        if block.skipped_because is not None:
            assert block.skipped_because, f"{block.where}: say why the block is not run"
            continue
        if block.file:
            target = folder / block.file
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(block.code, encoding="utf-8")
        if block.lang != "python":
            continue
        try:
            if block.file:
                module = importlib.import_module(block.file[:-3].replace("/", "."))
                namespace.update({k: v for k, v in vars(module).items() if not k.startswith("__")})
            else:
                exec(compile(block.code, block.where, "exec"), namespace)  # noqa: S102
        except Exception as exc:
            raise AssertionError(f"the sample at {block.where} failed: {exc!r}") from exc
    return namespace


def test_pages_have_python_samples_and_explain_skips() -> None:
    assert len(PAGES) >= 6
    for page in PAGES:
        for block in blocks(page):
            if block.skipped_because is not None:
                assert len(block.skipped_because) > 10, f"{block.where}: explain the skip"


RUNNABLE = [
    p for p in PAGES if any(b.lang == "python" and not b.skipped_because for b in blocks(p))
]


def provide_servers(page: Path, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch):
    """Start the servers the page's blocks need; their URLs go into the environment."""
    for name in sorted({n for block in blocks(page) for n in block.needs}):
        assert name in SERVERS, f"{page.name}: no server called {name!r}"
        fixture, variable = SERVERS[name]
        server = request.getfixturevalue(fixture)
        monkeypatch.setenv(variable, server.url)
        if name == "redis":
            server.flush()  # each page starts from an empty Redis
        else:
            request.addfinalizer(close_engines)


def close_engines() -> None:
    """Close the connections of the engines a page made (Flask-SQLAlchemy's, say): the page
    never closes them, as an app never does, and pytest turns the warning into an error."""
    import sqlalchemy

    for thing in gc.get_objects():  # before the collector frees them (with a warning)
        with contextlib.suppress(ReferenceError):  # a weak proxy whose object is gone
            if isinstance(thing, sqlalchemy.Engine):
                thing.dispose()


@pytest.mark.parametrize("page", RUNNABLE, ids=[str(p.relative_to(ROOT)) for p in RUNNABLE])
def test_samples_run(
    page: Path, sandboxed: Path, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    provide_servers(page, request, monkeypatch)
    close_clients(run_page(page, sandboxed))


def close_clients(namespace: dict[str, Any]) -> None:
    """Close the Redis clients and SQL engines a page's samples left open (directly or in an
    app's delivery store), now rather than whenever the garbage collector gets to them, and
    collect: a finalizer's failure belongs to this test, not to whichever runs next."""
    from flask_stackone.core.stores import RedisDeliveryStore, SQLDeliveryStore

    found: list[Any] = []
    for value in namespace.values():
        if isinstance(value, Flask):
            found += [s.delivery_store for s in value.extensions.get("stackone", {}).values()]
        elif type(value).__module__.startswith(("redis", "flask_stackone.core.stores")):
            found.append(value)
    for item in found:
        if isinstance(item, RedisDeliveryStore):
            item.redis.close()
        elif isinstance(item, SQLDeliveryStore) or type(item).__name__ == "Redis":
            item.close()
    if "sqlalchemy" in sys.modules:  # the engines of apps a later sample replaced, too
        close_engines()
    gc.collect()


def test_troubleshooting_lists_every_error_code_the_routes_answer() -> None:
    package = ROOT / "flask_stackone"
    source = "\n".join(
        p.read_text(encoding="utf-8")
        for p in package.rglob("*.py")
        if "sandbox" not in p.relative_to(package).parts
    )
    codes = set(re.findall(r'json_error\(\s*\d{3},\s*"([a-z_]+)"', source))
    codes |= set(re.findall(r'return\s*\(?\s*\d{3},\s*"([a-z_]+)"', source))
    codes |= set(re.findall(r'code="([a-z_]+)"', source))
    codes |= set(re.findall(r'InvalidOptionError\(\s*"([a-z_]+)"', source))
    codes |= set(re.findall(r'^\s+code = "([a-z_]+)"', source, re.M))
    assert {"not_signed_in", "invalid_signature", "stackone_timeout"} <= codes
    page = (ROOT / "docs" / "troubleshooting.md").read_text(encoding="utf-8")
    missing = sorted(code for code in codes if f"`{code}`" not in page)
    assert not missing, f"docs/troubleshooting.md does not explain: {missing}"


def test_deployment_redis_store_dedupes_and_releases(
    sandboxed: Path, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    import redis
    from flask import Flask

    from flask_stackone import account_created, make_blueprint
    from flask_stackone.testing import make_event, post_event

    page = ROOT / "docs" / "deployment.md"
    provide_servers(page, request, monkeypatch)
    store_class = run_page(page, sandboxed)["RedisDeliveryStore"]
    app = Flask("redis_store_app")
    app.config.from_prefixed_env()
    client = redis.Redis.from_url(os.environ["REDIS_URL"])
    client.flushdb()
    app.config.update(STACKONE_DELIVERY_STORE=store_class(client), STACKONE_DELIVERY_WAIT=0)
    app.register_blueprint(make_blueprint())
    calls: list[str] = []

    def receiver(sender: Flask, event: Any, **extra: Any) -> None:
        calls.append(event.account_id)
        if len(calls) == 1:
            raise RuntimeError("database down")

    account_created.connect(receiver, app)
    client = app.test_client()
    body = make_event("account.created", account_id="acc_r")
    assert post_event(client, body).status_code == 500  # released: StackOne will redeliver
    assert post_event(client, body).status_code == 200
    assert post_event(client, body).get_json() == {"ok": True, "duplicate": True}
    assert calls == ["acc_r", "acc_r"]
    store = app.config["STACKONE_DELIVERY_STORE"]
    store.redis.set("stackone:delivery:busy-one", "another-workers-claim")
    assert store.claim("busy-one") == "busy"
    store.redis.close()


@pytest.mark.parametrize("page", [ROOT / "README.md", ROOT / "docs" / "quickstart.md"])
def test_quickstart_app_serves_the_widget_and_a_token(page: Path, sandboxed: Path) -> None:
    """The README's and the quickstart's app, as a newcomer runs it: sandbox mode, no key."""
    from flask_stackone.sandbox import stop_deliveries

    app = run_page(page, sandboxed)["app"]
    try:
        client = app.test_client()
        html = client.get("/").get_data(as_text=True)
        assert "Connect your HR system" in html
        assert "data-stackone-hub" in html or "cannot be shown" in html
        answer = client.post("/stackone/connect-session", headers={"X-StackOne-Request": "1"})
        assert answer.status_code == 200, answer.get_data(as_text=True)
        assert set(answer.get_json()) == {"token", "expires_in", "expires_at"}
    finally:
        stop_deliveries(app)


def test_links_between_pages_resolve() -> None:
    for page in PAGES:
        text = page.read_text(encoding="utf-8")
        for target in re.findall(r"\]\(([^)#\s]+\.md)(?:#[^)]*)?\)", text):
            assert (page.parent / target).resolve().is_file(), f"{page.name} links to {target}"
