"""Clickjacking, in real Chromium: a page on another site frames an onboarding link made for
the attacker's organisation, so that the victim's click on "Connect" inside the frame would
link the victim's HR account to the attacker. The plugin's pages refuse to be framed."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask, request

from flask_stackone import Owner, connect_session_created, make_blueprint, onboarding_link
from flask_stackone.sandbox import stop_deliveries

from .browser import browser_fixture, page_fixture, shots_fixture  # noqa: F401
from .conftest import API_KEY, WEBHOOK_SECRET
from .live_server import serve

pytestmark = pytest.mark.browser

ATTACKER = Owner("org_attacker", "Attacker Ltd", "mallory@attacker.example")


class Host:
    """The platform: sandbox on, served on 127.0.0.1; it records the sessions created and
    every request it receives."""

    def __init__(self, instance: Path, **config: Any) -> None:
        self.sessions: list[Any] = []
        self.requests: list[str] = []
        self.lock = threading.Lock()
        app = Flask("framed_host", instance_path=str(instance))
        app.config.update(
            SECRET_KEY="framed-host-secret",
            STACKONE_API_KEY=API_KEY,
            STACKONE_WEBHOOK_SECRET=WEBHOOK_SECRET,
            STACKONE_SANDBOX=True,
            **config,
        )
        blueprint = make_blueprint()
        blueprint.owner_loader(lambda: None)
        app.register_blueprint(blueprint)

        @app.before_request
        def record_request() -> None:
            with self.lock:
                self.requests.append(f"{request.method} {request.path}")

        connect_session_created.connect(self.record_session, app, weak=False)
        self.app = app

    def record_session(self, sender: Flask, event: Any, **extra: Any) -> None:
        with self.lock:
            self.sessions.append(event)

    def posts(self) -> list[str]:
        with self.lock:
            return [line for line in self.requests if line.startswith("POST ")]


def attacker_site(link: str) -> Flask:
    """Another site: a page that frames the link, as big as the page, under a decoy."""
    app = Flask("attacker_site")

    @app.get("/")
    def decoy() -> str:
        return (
            "<!doctype html><title>Win a prize</title><h1>Click the button to win</h1>"
            f'<iframe id="framed" src="{link}" width="900" height="600"></iframe>'
        )

    return app


@pytest.fixture(params=["hub", "redirect"])
def host(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Host]:
    made = Host(tmp_path / "instance", STACKONE_ONBOARDING_MODE=request.param)
    yield made
    stop_deliveries(made.app)


def test_another_site_cannot_frame_an_onboarding_link(host: Host, page: Any, shots: Any) -> None:
    with serve(host.app) as platform:
        with host.app.app_context():
            link = onboarding_link(ATTACKER, provider="bamboohr", base_url=platform)
        # localhost and 127.0.0.1 are different sites to the browser
        with serve(attacker_site(link)) as attacker:
            attacker = attacker.replace("127.0.0.1", "localhost")
            with page.expect_response(lambda r: r.url == link) as framed:
                page.goto(attacker + "/")
            page.wait_for_load_state("load")
            shots(page, "attacker-page")

            [child] = page.main_frame.child_frames
            assert child.url.startswith("chrome-error://"), f"the link was shown: {child.url}"
            assert page.frame_locator("#framed").get_by_role("button").count() == 0
            answer = framed.value
            assert answer.status == 200
            assert answer.headers.get("x-frame-options") == "DENY"
            assert "frame-ancestors 'none'" in answer.headers.get("content-security-policy", "")

            # the victim clicks where the Connect button would be, and all over the frame
            box = page.locator("#framed").bounding_box()
            for fx, fy in [(0.1, 0.2), (0.2, 0.3), (0.5, 0.5), (0.3, 0.25)]:
                page.mouse.click(box["x"] + box["width"] * fx, box["y"] + box["height"] * fy)
            page.goto(platform + "/stackone/link/not-a-link")  # a request after the clicks

    assert host.posts() == []
    assert host.sessions == []


def test_the_link_opened_directly_still_works(host: Host, page: Any) -> None:
    """Refusing frames changes nothing for the customer who opens the link itself."""
    with serve(host.app) as platform:
        with host.app.app_context():
            link = onboarding_link(ATTACKER, provider="bamboohr", base_url=platform)
        page.goto(link)
        page.get_by_role("button", name="Connect").click()
        page.wait_for_load_state("load")
        if host.app.config["STACKONE_ONBOARDING_MODE"] == "hub":
            page.get_by_label("Company Domain", exact=True).wait_for()
        else:
            page.wait_for_url(f"{platform}/stackone-sandbox/**")
    assert [s.owner_id for s in host.sessions] == ["org_attacker"]
    assert not [line for line in page.console if "Refused" in line or "pageerror" in line]
