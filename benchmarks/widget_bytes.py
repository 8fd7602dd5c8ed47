"""Bytes the widget costs on the wire, measured by headless Chromium (Chrome DevTools
Protocol ``encodedDataLength``) against a sandbox host app on a local port.

Three views: the first visit to a page with ``{{ stackone_hub() }}`` (compressed transfer),
a repeat visit (expected: the immutable Hub script comes from the cache, the glue at most
revalidates with a 304) and a page without the widget (expected: no widget bytes).
Target: first view <= 600 KB for the widget's scripts.

    .venv/bin/python benchmarks/widget_bytes.py
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path
from typing import Any

from flask import Flask, render_template_string

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from flask_stackone import Owner, make_blueprint
from flask_stackone.core.hub_script import HUB_VERSION, INSTALL_COMMAND
from flask_stackone.core.hub_script import installed_script as load_script
from flask_stackone.sandbox import stop_deliveries
from tests.live_server import serve

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"]
TARGET_BYTES = 600 * 1000
HUB_PATH = f"/stackone/hub/{HUB_VERSION}/webcomponent.js"
GLUE_PATH = "/stackone/glue/"


def host_app(instance: str) -> Flask:
    app = Flask("bench_host", instance_path=instance)
    app.config.update(SECRET_KEY="bench", STACKONE_SANDBOX=True)
    blueprint = make_blueprint()
    blueprint.owner_loader(lambda: Owner("org_1", "Acme Ltd"))
    app.register_blueprint(blueprint)

    @app.route("/widget")
    def widget() -> str:
        return render_template_string("<!doctype html><h1>Link</h1>{{ stackone_hub() }}")

    @app.route("/plain")
    def plain() -> str:
        return "<!doctype html><p>No widget here.</p>"

    return app


class Transfers:
    """Wire bytes per URL path of one page, from the DevTools protocol."""

    def __init__(self, page: Any) -> None:
        self.urls: dict[str, str] = {}
        self.status: dict[str, int] = {}
        self.cached: set[str] = set()
        self.bytes: dict[str, int] = {}
        cdp = page.context.new_cdp_session(page)
        cdp.send("Network.enable")
        cdp.send("Network.setCacheDisabled", {"cacheDisabled": False})
        cdp.on("Network.requestWillBeSent", self._sent)
        cdp.on("Network.responseReceived", self._received)
        cdp.on("Network.requestServedFromCache", lambda e: self.cached.add(e["requestId"]))
        cdp.on("Network.loadingFinished", self._finished)

    def _sent(self, event: dict[str, Any]) -> None:
        self.urls[event["requestId"]] = event["request"]["url"]

    def _received(self, event: dict[str, Any]) -> None:
        response = event["response"]
        self.status[event["requestId"]] = response["status"]
        if response.get("fromDiskCache") or response.get("fromMemoryCache"):
            self.cached.add(event["requestId"])

    def _finished(self, event: dict[str, Any]) -> None:
        self.bytes[event["requestId"]] = int(event["encodedDataLength"])

    def of(self, path: str) -> tuple[int, str]:
        """Wire bytes and how the resource came (``200``, ``304``, ``cache``, ``-``)."""
        total, how = 0, "-"
        for request_id, url in self.urls.items():
            if path not in url:
                continue
            total += self.bytes.get(request_id, 0)
            how = "cache" if request_id in self.cached else str(self.status.get(request_id, "?"))
        return total, how


def view(context: Any, url: str, wait_for_hub: bool) -> dict[str, Any]:
    page = context.new_page()
    transfers = Transfers(page)
    page.goto(url)
    if wait_for_hub:
        page.get_by_placeholder("Search Integrations").wait_for(timeout=15_000)
    page.wait_for_load_state("networkidle")
    hub_bytes, hub_how = transfers.of(HUB_PATH)
    glue_bytes, glue_how = transfers.of(GLUE_PATH)
    page.close()
    return {
        "hub_bytes": hub_bytes,
        "hub_from": hub_how,
        "glue_bytes": glue_bytes,
        "glue_from": glue_how,
        "widget_bytes": hub_bytes + glue_bytes,
    }


def run() -> list[dict[str, Any]]:
    """Measure the three views; one dict per view."""
    if load_script(None, HUB_VERSION) is None:
        raise SystemExit(f"the Hub script is not installed: run `{INSTALL_COMMAND}`")
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as instance:
        app = host_app(instance)
        try:
            with serve(app) as base, sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
                context = browser.new_context()
                rows = [
                    {"view": "first view", **view(context, f"{base}/widget", True)},
                    {"view": "repeat view", **view(context, f"{base}/widget", True)},
                    {
                        "view": "page without widget",
                        **view(browser.new_context(), f"{base}/plain", False),
                    },
                ]
                browser.close()
        finally:
            stop_deliveries(app)
    rows[0]["target_bytes"] = TARGET_BYTES
    rows[0]["within_target"] = rows[0]["widget_bytes"] <= TARGET_BYTES
    return rows


def main() -> None:
    rows = run()
    print(f"{'view':<22}{'Hub script':>14}{'from':>7}{'glue':>9}{'from':>7}{'widget total':>15}")
    for row in rows:
        print(
            f"{row['view']:<22}{row['hub_bytes']:>14,}{row['hub_from']:>7}"
            f"{row['glue_bytes']:>9,}{row['glue_from']:>7}{row['widget_bytes']:>15,}"
        )
    first = rows[0]
    verdict = "within" if first["within_target"] else "OVER"
    print(
        f"first view: {first['widget_bytes']:,} bytes, {verdict} the {TARGET_BYTES:,} byte target"
    )


if __name__ == "__main__":
    main()
