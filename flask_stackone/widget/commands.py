"""Click commands that install the pinned Hub script and say where the widget loads it
from, shared by ``flask stackone hub`` and ``python -m flask_stackone hub`` (which needs no
Flask app)."""

from __future__ import annotations

import os

import click

from ..core.errors import HubInstallError
from ..core.hub_script import (
    HUB_VERSION,
    INSTALL_COMMAND,
    PACKAGE,
    hub_dir,
    install,
    read_verified,
)

version_option = click.option(
    "--version",
    "version",
    default=HUB_VERSION,
    show_default=True,
    help="The Hub version; it must be one this release pins.",
)
force_option = click.option("--force", is_flag=True, help="Fetch again even if installed.")


def install_and_report(version: str, root: str | os.PathLike[str] | None, force: bool) -> None:
    """Install and print one line; turn failures into a click error (exit code 1)."""
    try:
        path, fetched = install(version, root, force=force)
    except HubInstallError as exc:
        raise click.ClickException(str(exc)) from None
    state = "installed" if fetched else "already installed"
    click.echo(f"{PACKAGE} {version} {state} (sha256 verified): {path}")


def report_status(root: str | os.PathLike[str] | None, script_url: str | None) -> None:
    """Say where the widget loads the Hub script from; exit 1 when it has no source."""
    folder = hub_dir(root, HUB_VERSION)
    verified = read_verified(root, HUB_VERSION) is not None
    click.echo(f"pinned:      {PACKAGE} {HUB_VERSION}")
    installed = "installed, verified" if verified else "not installed"
    click.echo(f"self-hosted: {folder} ({installed})")
    click.echo(f"CDN URL:     {script_url or '(STACKONE_HUB_SCRIPT_URL not set)'}")
    if not (verified or script_url):
        raise click.ClickException(
            f"the widget has no Hub script: run `{INSTALL_COMMAND}` or set STACKONE_HUB_SCRIPT_URL"
        )
