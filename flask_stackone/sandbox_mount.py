"""Mounting the sandbox in a Flask app that turns ``STACKONE_SANDBOX`` on.

The sandbox is an app of its own (:func:`flask_stackone.sandbox.create_app`). Here the
plugin builds it once, when its blueprint is registered, and

- mounts it at ``/stackone-sandbox`` by WSGI dispatch: the host's ``wsgi_app`` is wrapped
  so that the sandbox's paths reach the sandbox and every other path the host, untouched
  (no hook runs on the host's own requests, no blueprint is added to it);
- gives the plugin's client a ``requests`` session whose transport calls the sandbox app
  in process, so no server has to run (the CLI, Flask's test client);
- tells the sandbox where to deliver webhooks: ``STACKONE_SANDBOX_WEBHOOK_URL``, else the
  host's own webhook route on the host and port of this run, learned from the requests
  this run serves (a browser's request that makes the plugin call the sandbox, or a
  request to the sandbox itself) or built from ``SERVER_NAME``. Nothing learned is kept
  for the next run.
"""

from __future__ import annotations

import dataclasses
import logging
import os
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import click
import requests
from flask import Flask, current_app, has_request_context, request
from flask.helpers import get_debug_flag
from werkzeug.routing import BuildError
from werkzeug.wsgi import get_current_url

from .core.client import DEFAULT_API_URL, is_local_url, is_loopback
from .core.errors import ConfigurationError
from .core.settings_table import BY_KEY, SANDBOX_SETTINGS
from .services.settings import Settings

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

    from .sandbox import Sandbox

log = logging.getLogger("flask_stackone.sandbox")

URL_PREFIX = "/stackone-sandbox"
#: Where ``flask run`` serves an app by default: links point there before this run served
#: any request, without ``SERVER_NAME`` (``FLASK_RUN_HOST`` / ``FLASK_RUN_PORT`` change it).
FALLBACK_ROOT = "http://127.0.0.1:5000/"
BANNER = (
    "STACKONE SANDBOX IS ON (%s): StackOne is emulated at %s/, accounts linked there are "
    "fake and nothing reaches StackOne.\n"
    "  Development and tests only: never enable it in production."
)


def prepare_sandbox(
    app: Flask, settings: Settings, webhook_endpoint: str
) -> tuple[Settings, requests.Session | None, str | None]:
    """The sandbox's part of a StackOne blueprint's registration on ``app``.

    Its ``STACKONE_SANDBOX_*`` settings are checked in any case (a wrong one is refused
    even while the sandbox is off); when ``STACKONE_SANDBOX`` is on, the sandbox app is
    built and mounted.

    :param webhook_endpoint: the endpoint of the blueprint's webhook route.
    :returns: the settings the plugin uses (with the sandbox on: the sandbox's API key and
        webhook secret when none is configured, and its URL), the transport session
        (``None`` when the sandbox is off or ``STACKONE_API_URL`` names a local server to
        call over HTTP), and the mount path (``None`` when off).
    :raises ConfigurationError: a sandbox setting is wrong; with the sandbox on also when
        ``STACKONE_API_URL`` names a remote server or another blueprint on this app already
        uses the sandbox.
    """
    from .sandbox.config import read_config

    values = _sandbox_settings(app.config, settings)
    read_config(values, settings.prefix)
    if not settings.sandbox:
        return settings, None, None
    return _mount(app, settings, webhook_endpoint, values)


def _mount(
    app: Flask, settings: Settings, webhook_endpoint: str, values: dict[str, Any]
) -> tuple[Settings, requests.Session | None, str]:
    """Build the sandbox app with ``values`` and mount it on ``app``."""
    from .sandbox import create_app, get_sandbox
    from .sandbox.state import SANDBOX_EXTENSION_KEY
    from .sandbox.transport import IN_PROCESS_URL, WSGIAdapter

    if get_sandbox(app) is not None:
        raise ConfigurationError(
            f"{settings.name('sandbox')}: only one flask-stackone blueprint per app can use "
            "the sandbox"
        )
    explicit_url = settings.api_url.rstrip("/") != DEFAULT_API_URL
    if explicit_url and not is_local_url(settings.api_url):
        host = urlsplit(settings.api_url).hostname or settings.api_url
        raise ConfigurationError(
            f"{settings.name('sandbox')} is on but {settings.name('api_url')} points to {host}: "
            "the sandbox only runs with a local API URL (or none). Remove the setting, or turn "
            "the sandbox off to use StackOne."
        )
    sandbox_app = create_app(
        values,
        instance_path=app.instance_path,
        setting_prefix=settings.prefix,
    )
    sandbox = get_sandbox(sandbox_app)
    assert sandbox is not None
    link = HostLink(app, sandbox, _path_of(app, webhook_endpoint), settings.public_url)
    app.extensions[SANDBOX_EXTENSION_KEY] = sandbox  # get_sandbox(app) finds it
    app.wsgi_app = SandboxDispatcher(app.wsgi_app, sandbox_app, link)  # type: ignore[method-assign]
    session = None
    if not explicit_url:
        session = requests.Session()
        session.mount("http://sandbox.localhost/", WSGIAdapter(sandbox_app, link.public_root))
    if should_announce():
        log.warning(BANNER, settings.name("sandbox"), URL_PREFIX)
    in_use = dataclasses.replace(
        settings,
        api_key=settings.api_key or sandbox.api_key,
        webhook_secret=settings.webhook_secret or (sandbox.webhook_secret,),
        api_url=settings.api_url if explicit_url else IN_PROCESS_URL,
        sandbox_config=sandbox.config,
    )
    return in_use, session, URL_PREFIX


#: The sandbox settings a host app writes (``STACKONE_SANDBOX_DB`` ...); the plugin fills
#: the others from its own (``STACKONE_API_KEY`` ...).
HOST_KEYS = tuple(s.key for s in SANDBOX_SETTINGS if s.from_plugin is None)


def _sandbox_settings(config: dict[str, Any], settings: Settings) -> dict[str, Any]:
    """The sandbox's settings: the host's ``<prefix>SANDBOX_*`` keys without the prefix,
    and the others from the plugin's settings (its key, secret, timeout, Hub script source).

    :raises ConfigurationError: a ``<prefix>SANDBOX_*`` key that is none of them (a typo).
    """
    start = settings.prefix + "SANDBOX_"
    found = {k[len(settings.prefix) :]: v for k, v in config.items() if k.startswith(start)}
    unknown = sorted(set(found) - set(HOST_KEYS))
    if unknown:
        known = ", ".join(settings.prefix + key for key in HOST_KEYS)
        raise ConfigurationError(
            f"{settings.prefix}{unknown[0]} is not a setting (the sandbox's are {known})"
        )
    filled = {
        s.key: getattr(settings, BY_KEY[s.from_plugin].field)
        for s in SANDBOX_SETTINGS
        if s.from_plugin is not None
    }
    return {**found, **filled}


def _path_of(app: Flask, endpoint: str) -> str | None:
    """The path of ``endpoint`` under the app's root (``/stackone/webhooks``)."""
    try:
        return app.url_map.bind("localhost").build(endpoint)
    except BuildError:
        return None


def flask_run_root() -> str:
    """Where ``flask run`` serves the app on this machine: ``FLASK_RUN_HOST`` and
    ``FLASK_RUN_PORT`` (the variables ``flask run`` reads too), by default
    :data:`FALLBACK_ROOT`. An address that listens everywhere is reached as 127.0.0.1."""
    host = os.environ.get("FLASK_RUN_HOST", "").strip() or "127.0.0.1"
    if host in ("0.0.0.0", "::", "[::]"):  # noqa: S104 - listening everywhere: reach it locally
        host = "127.0.0.1"
    elif ":" in host and not host.startswith("["):
        host = f"[{host}]"
    port = os.environ.get("FLASK_RUN_PORT", "").strip() or "5000"
    return f"http://{host}:{port}/"


def should_announce() -> bool:
    """Say that the sandbox is on where it informs: when a server builds the app (gunicorn,
    ``app.run``, tests) and in ``flask run`` (once, in the process that serves), not in
    ``flask --help``, ``flask routes`` or the other commands."""
    ctx = click.get_current_context(silent=True)
    if ctx is None:
        return True
    if ctx.command.name != "run":
        return False
    reload = ctx.params.get("reload")
    if reload is None:
        reload = get_debug_flag()
    return not reload or os.environ.get("WERKZEUG_RUN_MAIN") == "true"


def is_served(environ: WSGIEnvironment) -> bool:
    """True for a request a real server received (not Flask's test client, not in process)."""
    from .sandbox.transport import IN_PROCESS_KEY

    return bool(environ.get("SERVER_SOFTWARE")) and not environ.get(IN_PROCESS_KEY)


class HostLink:
    """What the sandbox learns of the app that mounts it, in this run only: the public root
    URL that the browser uses, hence where the app's webhook route is."""

    def __init__(
        self,
        app: Flask,
        sandbox: Sandbox,
        webhook_path: str | None,
        public_url: str | None = None,
    ) -> None:
        self.app = app
        self.sandbox = sandbox
        self.webhook_path = webhook_path
        self.root: str | None = None
        #: The root the configuration names: ``STACKONE_PUBLIC_URL``, else ``SERVER_NAME``.
        self.server_root: str | None = None
        server_name = app.config.get("SERVER_NAME")
        if public_url:
            self.server_root = public_url.rstrip("/") + "/"
        elif server_name:
            scheme = app.config.get("PREFERRED_URL_SCHEME") or "http"
            base = (app.config.get("APPLICATION_ROOT") or "/").rstrip("/")
            self.server_root = f"{scheme}://{server_name}{base}/"
        if self.server_root and webhook_path:
            sandbox.learn_webhook_url(self.server_root.rstrip("/") + webhook_path, kick=False)

    def learn(self, root: str) -> None:
        """This run serves the app at ``root`` (``http://127.0.0.1:5000/``)."""
        if root == self.root:
            return
        self.root = root
        if self.webhook_path:
            self.sandbox.learn_webhook_url(root.rstrip("/") + self.webhook_path)

    def public_root(self) -> str:
        """The root URL links to the sandbox start from: the current request's (the host
        the browser used), else what this run learned, else the configured one
        (``STACKONE_PUBLIC_URL``, ``SERVER_NAME``), else where ``flask run`` serves the app."""
        if has_request_context() and current_app._get_current_object() is self.app:  # type: ignore[attr-defined]
            root = request.root_url
            if is_served(request.environ):
                self.learn(root)
            return root
        return self.root or self.server_root or flask_run_root()


class SandboxDispatcher:
    """WSGI dispatch: a request under ``/stackone-sandbox`` that the sandbox answers (one
    of its routes, or any path of StackOne's API) goes to the sandbox app, everything else
    to the host app as it is. The first request served also resumes the deliveries an
    earlier run left pending."""

    def __init__(self, host: WSGIApplication, sandbox_app: Flask, link: HostLink) -> None:
        from .sandbox.app import owns

        self.host = host
        self.sandbox_app = sandbox_app
        self.link = link
        self.prefix = URL_PREFIX
        self._owns: Callable[[Flask, str, str], bool] = owns
        self._started = False
        self._warned = False

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        if not self._started:
            self._started = True
            self.link.sandbox.resume()
        path: str = environ.get("PATH_INFO") or ""
        if path.startswith(self.prefix) and path[len(self.prefix) : len(self.prefix) + 1] in (
            "",
            "/",
        ):
            rest = path[len(self.prefix) :]
            if self._owns(self.sandbox_app, rest, environ.get("REQUEST_METHOD") or "GET"):
                if is_served(environ):
                    self.link.learn(get_current_url(environ, root_only=True))
                    self._warn_if_remote(environ.get("REMOTE_ADDR") or "")
                inner = dict(environ)
                inner["SCRIPT_NAME"] = (environ.get("SCRIPT_NAME") or "") + self.prefix
                inner["PATH_INFO"] = rest
                return self.sandbox_app(inner, start_response)
        return self.host(environ, start_response)

    def _warn_if_remote(self, address: str) -> None:
        """Say it loudly (once) when another machine reaches the sandbox."""
        if self._warned or not address or is_loopback(address):
            return
        self._warned = True
        log.warning(
            "STACKONE SANDBOX REACHED FROM %s, NOT FROM THIS MACHINE: anyone who can reach "
            "this app can read every owner's sandbox accounts on %s/ and wipe them. Serve the "
            "app on 127.0.0.1 only, or turn STACKONE_SANDBOX off.",
            address,
            self.prefix,
        )
